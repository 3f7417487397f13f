// Command pause is the sandbox ("pause") container of the kubelet-node
// cluster's pods: it holds the pod's namespaces open, reaps the zombies that
// end up with it, and exits on SIGINT or SIGTERM, as Kubernetes' own pause
// does. hack/node-bins.sh builds it; the cluster wraps it into an image.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		switch sig {
		case syscall.SIGCHLD:
			for {
				var status syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		default:
			os.Exit(0)
		}
	}
}
