//go:build tools

// Package helmbin pins the helm CLI the chart tests use. It lives in its own
// module so that helm's Kubernetes libraries do not change the versions the
// Kubernetes servers in ../ are built with.
package helmbin

import (
	_ "helm.sh/helm/v3/cmd/helm"
)
