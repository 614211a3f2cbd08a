package codec

import (
	"fmt"
	"strconv"
)

// Text is the text of a scalar of the value model as Scriptling's str()
// writes it: a string as itself, an int64 in decimal, a float64 in its
// shortest form ("2.5", "1e+21", "NaN", "+Inf"), a bool as "true" or
// "false". Other values get fmt's default text. Node-group criteria match
// metadata values by this text, and the command line prints them with it.
func Text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}
