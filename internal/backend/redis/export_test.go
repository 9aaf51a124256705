package redis

// SnapshotLoads is how many ACL LIST snapshots c loaded, over all nodes.
func SnapshotLoads(c *Client) int64 {
	var n int64
	for _, nd := range c.nodes {
		n += nd.acl.Loads()
	}
	return n
}

// InvalidateSnapshots drops c's snapshots, as a write would.
func InvalidateSnapshots(c *Client) {
	for _, nd := range c.nodes {
		nd.acl.Invalidate()
	}
}
