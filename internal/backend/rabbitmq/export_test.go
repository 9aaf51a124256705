package rabbitmq

// SnapshotLoads is how many server-wide snapshots c loaded.
func SnapshotLoads(c *Client) int64 { return c.snap.Loads() }

// InvalidateSnapshot drops c's snapshot, as a write would.
func InvalidateSnapshot(c *Client) { c.snap.Invalidate() }
