// Command coredns is the cluster DNS of the end-to-end test cluster (test
// infrastructure): CoreDNS at the version pinned in go.mod, linked with only
// the plugins the cluster's Corefile uses, which keeps the build short (the
// upstream binary also links every cloud provider's SDK).
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() {
	coremain.Run()
}
