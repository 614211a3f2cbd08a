package codec

import (
	"math"
	"testing"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want string
	}{
		{"", ""},
		{"a b", "a b"},
		{int64(0), "0"},
		{int64(-42), "-42"},
		{int64(math.MaxInt64), "9223372036854775807"},
		{2.5, "2.5"},
		{3.0, "3"},
		{1e21, "1e+21"},
		{math.Copysign(0, -1), "-0"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
		{true, "true"},
		{false, "false"},
		{nil, "<nil>"},
		{[]any{int64(1), "x"}, "[1 x]"},
	} {
		if got := Text(tc.v); got != tc.want {
			t.Errorf("Text(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
