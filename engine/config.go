package engine

import (
	"cmp"
	"fmt"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/hashicorp/memberlist"
)

// Profiles select memberlist's base timing; see Config.Profile.
const (
	ProfileLAN   = "lan"
	ProfileLocal = "local"
	ProfileWAN   = "wan"
)

const (
	defaultBindAddr        = "0.0.0.0:7946"
	defaultCompressMinSize = 256
	defaultQueueSize       = 1024
	defaultLeaveTimeout    = 2 * time.Second
	defaultSendTimeout     = 10 * time.Second
	// defaultDeadNodeReclaim lets a node restarted under the same id at a
	// new address take its name back after this long; without it memberlist
	// keeps refusing the new address as a conflict.
	defaultDeadNodeReclaim = 10 * time.Second

	// MaxUnreliablePayload is the largest encoded unreliable message (UDP);
	// larger datagrams fragment or fail, so they are refused with ErrTooLarge.
	MaxUnreliablePayload = 60000
	// MaxReliablePayload is the largest encoded reliable message payload.
	MaxReliablePayload = 16 << 20
	// MaxMetadataSize caps the encoded size of a node's whole metadata map.
	MaxMetadataSize = 1 << 20
)

// settings is the validated, defaulted form of Config.
type settings struct {
	Config
	bindHost      string
	bindPort      int
	advertiseHost string
	advertisePort int
	// bind and advertiseIP are the resolved addresses (bindaddr.go); with
	// an injected Transport they stay unset and the hosts pass through.
	bind        bindPlan
	advertiseIP net.IP
	key         []byte // encryption key, nil when off

	// keyring holds the encryption keys, nil when off. It is built once here
	// and shared by memberlist and the streams transport, so key rotation
	// (keys.go) changes the keys of every packet and stream at once.
	keyring *memberlist.Keyring
}

// validate checks cfg and fills in defaults.
func validate(cfg Config) (*settings, error) {
	s := &settings{Config: cfg}
	if s.BindAddr == "" {
		s.BindAddr = defaultBindAddr
	}
	var err error
	if s.bindHost, s.bindPort, err = splitAddr(s.BindAddr, "bind_addr"); err != nil {
		return nil, err
	}
	if s.AdvertiseAddr != "" {
		if s.advertiseHost, s.advertisePort, err = splitAddr(s.AdvertiseAddr, "advertise_addr"); err != nil {
			return nil, err
		}
	}
	if s.Transport == nil {
		if s.bind, err = sysNet.resolveBind(s.bindHost, s.BindAddr); err != nil {
			return nil, err
		}
		if s.AdvertiseAddr != "" {
			if s.advertiseIP, err = sysNet.resolveAdvertise(s.advertiseHost, s.AdvertiseAddr, s.bind); err != nil {
				return nil, err
			}
		}
	}
	if s.NodeID == "" {
		s.NodeID = uuid.NewString()
	}
	if s.EncryptionKey != "" {
		switch n := len(s.EncryptionKey); n {
		case 16, 24, 32:
			s.key = []byte(s.EncryptionKey)
			if s.keyring, err = memberlist.NewKeyring(nil, s.key); err != nil {
				return nil, fmt.Errorf("%w: encryption_key: %v", ErrInvalidArgument, err)
			}
		default:
			return nil, fmt.Errorf("%w: encryption_key must be 16, 24 or 32 bytes, got %d", ErrInvalidArgument, n)
		}
	}
	if s.CompressMinSize < 0 {
		return nil, fmt.Errorf("%w: compress_min_size must not be negative, got %d", ErrInvalidArgument, s.CompressMinSize)
	}
	if s.CompressMinSize == 0 {
		s.CompressMinSize = defaultCompressMinSize
	}
	if s.EventQueueSize < 0 {
		return nil, fmt.Errorf("%w: event_queue_size must not be negative, got %d", ErrInvalidArgument, s.EventQueueSize)
	}
	if s.EventQueueSize == 0 {
		s.EventQueueSize = defaultQueueSize
	}
	if s.LeaveTimeout < 0 {
		return nil, fmt.Errorf("%w: leave_timeout must not be negative", ErrInvalidArgument)
	}
	if s.LeaveTimeout == 0 {
		s.LeaveTimeout = defaultLeaveTimeout
	}
	if s.SendTimeout < 0 {
		return nil, fmt.Errorf("%w: send_timeout must not be negative, got %v", ErrInvalidArgument, s.SendTimeout)
	}
	if s.SendTimeout == 0 {
		s.SendTimeout = defaultSendTimeout
	}
	if s.Logger == nil {
		s.Logger = discardLogger
	}
	switch s.Profile {
	case "":
		s.Profile = ProfileLAN
	case ProfileLAN, ProfileLocal, ProfileWAN:
	default:
		return nil, fmt.Errorf("%w: profile must be %q, %q or %q, got %q", ErrInvalidArgument, ProfileLAN, ProfileLocal, ProfileWAN, s.Profile)
	}
	for _, d := range []time.Duration{s.ProbeInterval, s.ProbeTimeout, s.GossipInterval, s.PushPullInterval, s.DeadNodeReclaimTime} {
		if d < 0 {
			return nil, fmt.Errorf("%w: durations must not be negative", ErrInvalidArgument)
		}
	}
	if s.SuspicionMult < 0 || s.RetransmitMult < 0 || s.GossipNodes < 0 {
		return nil, fmt.Errorf("%w: suspicion_mult, retransmit_mult and gossip_nodes must not be negative", ErrInvalidArgument)
	}
	s.Tags = append([]string(nil), s.Tags...)
	for _, t := range s.Tags {
		if t == "" {
			return nil, fmt.Errorf("%w: tags must not be empty strings", ErrInvalidArgument)
		}
	}
	// The header must fit memberlist's node metadata even with the largest
	// metadata version, or memberlist would panic later.
	h := nodeHeader{instance: math.MaxUint64, metaVersion: math.MaxUint64, appVersion: s.AppVersion, tags: s.Tags}
	if s.BearerToken != "" {
		h.proof = make([]byte, proofLen)
	}
	if n := len(h.encode(nil)); n > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: tags and app_version need %d bytes of node metadata, over the %d byte limit", ErrInvalidArgument, n, memberlist.MetaMaxSize)
	}
	return s, nil
}

// splitAddr parses "host:port".
func splitAddr(addr, field string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %s %q: %v", ErrInvalidArgument, field, addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%w: %s %q: port must be a number from 0 to 65535", ErrInvalidArgument, field, addr)
	}
	return host, port, nil
}

// memberlistConfig builds memberlist's configuration for c.
func (c *Cluster) memberlistConfig() (*memberlist.Config, error) {
	s := c.cfg
	var mc *memberlist.Config
	switch s.Profile {
	case ProfileLocal:
		mc = memberlist.DefaultLocalConfig()
	case ProfileWAN:
		mc = memberlist.DefaultWANConfig()
	default:
		mc = memberlist.DefaultLANConfig()
	}
	mc.Name = s.NodeID
	mc.BindAddr = s.bindHost
	mc.BindPort = s.bindPort
	switch {
	case s.Transport != nil:
		// The injected transport owns addressing: pass the hosts through.
		if s.AdvertiseAddr != "" {
			mc.AdvertiseAddr = s.advertiseHost
			mc.AdvertisePort = s.advertisePort
		}
	default:
		// Always name the advertised address, so memberlist never picks
		// one itself (possibly of a family the bind address cannot serve).
		mc.BindAddr = s.bind.listenAddr()
		mc.AdvertiseAddr = s.bind.ip.String()
		switch {
		case s.advertiseIP != nil:
			mc.AdvertiseAddr = s.advertiseIP.String()
		case s.bind.wildcard():
			mc.AdvertiseAddr = sysNet.wildcardAdvertise(s.bind.family).String()
		}
		// A zero port is replaced by the bound one in buildTransport.
		mc.AdvertisePort = cmp.Or(s.advertisePort, s.bindPort)
	}
	d := &delegate{c: c}
	mc.Delegate = d
	mc.Alive = d
	mc.Merge = d
	mc.Conflict = d
	mc.Events = membershipEvents{c: c}
	mc.Ping = pingEvents{c: c} // paces the suspect watch (peerwatch.go)
	// The engine compresses payloads itself (Snappy, per message, with a
	// flag bit) so that nodes with and without compression interoperate.
	mc.EnableCompression = false
	if s.keyring != nil {
		mc.Keyring = s.keyring
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	mc.Logger = c.memberlistLogger()
	if s.Transport != nil {
		mc.Transport = s.Transport
	}
	mc.DeadNodeReclaimTime = defaultDeadNodeReclaim
	override(&mc.DeadNodeReclaimTime, s.DeadNodeReclaimTime)
	override(&mc.ProbeInterval, s.ProbeInterval)
	override(&mc.ProbeTimeout, s.ProbeTimeout)
	override(&mc.GossipInterval, s.GossipInterval)
	override(&mc.PushPullInterval, s.PushPullInterval)
	override(&mc.SuspicionMult, s.SuspicionMult)
	override(&mc.RetransmitMult, s.RetransmitMult)
	override(&mc.GossipNodes, s.GossipNodes)
	return mc, nil
}

// override replaces a profile value with the caller's when one was given
// (a zero value means "keep the profile's").
func override[T int | time.Duration](dst *T, v T) {
	if v > 0 {
		*dst = v
	}
}
