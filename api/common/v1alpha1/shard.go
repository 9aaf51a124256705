package v1alpha1

// ShardLabel assigns an object to an operator shard: only the operator
// started with --shard=<value> reconciles it, and an operator started
// without --shard reconciles only objects without the label. On a server
// kind it names the shard that reports the server's status; every shard
// connects to the servers its objects use.
const ShardLabel = "backend-operator.dev/shard"
