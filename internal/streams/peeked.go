package streams

import "net"

// peekedConn replays the bytes read while routing a connection before
// reading from the connection itself.
type peekedConn struct {
	peeked []byte
	net.Conn
}

func (c *peekedConn) Read(p []byte) (int, error) {
	if len(c.peeked) > 0 {
		n := copy(p, c.peeked)
		c.peeked = c.peeked[n:]
		if len(c.peeked) == 0 {
			c.peeked = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}
