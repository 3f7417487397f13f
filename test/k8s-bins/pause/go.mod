module keepalived-vip-operator/test/k8s-bins/pause

go 1.26.0
