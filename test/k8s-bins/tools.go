//go:build tools

// Package k8sbins pins the Kubernetes and etcd servers the integration tests
// run against, and the kubelet, controller manager and scheduler of the
// kubelet-node cluster (hack/kubelet-cluster.sh). Nothing here is compiled;
// hack/k8s-bins.sh builds the commands with `go build` inside this module.
package k8sbins

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
