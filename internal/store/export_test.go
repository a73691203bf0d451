package store

import "context"

// OpenAt is Open with the schema brought only up to version v, as an older
// binary left it.
func OpenAt(ctx context.Context, c Config, v int) (*Store, error) { return open(ctx, c, v) }

// Lock is the cluster-wide named lock migrations take.
var Lock = lock
