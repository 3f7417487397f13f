//go:build tools

// Package containerdbins pins the container runtime of the kubelet-node
// cluster (hack/kubelet-cluster.sh): containerd, its runc shim and ctr.
// Nothing here is compiled; hack/node-bins.sh builds the commands with
// `go build` inside this module. containerd v2.3 is the release line that
// supports Kubernetes 1.36 (containerd's RELEASES.md).
package containerdbins

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
