// Command csi-tmpfs is TEST INFRASTRUCTURE for the end-to-end cluster of this
// repository (test/cluster): a small single-node CSI driver in which every
// volume is its own tmpfs of exactly the requested size.
//
// Why tmpfs: on the machines this suite runs on, `mount -o remount,size=N`
// grows a tmpfs online and every bind mount of it (what kubelet hands to a
// pod) sees the new size at once, while online resize2fs of a loop-mounted
// ext4 is refused. statfs of a tmpfs reports exactly its size, so `df` in the
// pod, NodeGetVolumeStats and the PVC capacity can be compared byte for byte.
//
// What it implements (CSI 1.x): dynamic provisioning (CreateVolume /
// DeleteVolume), ControllerExpandVolume (records the new "disk" size and asks
// for node expansion, like a cloud block disk), NodeExpandVolume (grows the
// filesystem online), NodePublish/Unpublish (bind mounts), NodeGetVolumeStats
// (statfs), and kubelet plugin registration on its own (the
// node-driver-registrar sidecar is not available from the Go module proxy).
//
// Fault injection for tests: while <state-dir>/faults/<name> exists, the
// operation fails with the file's first line as its message. Names:
// controller-expand, node-expand, create.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

const version = "0.1.0"

func main() {
	var (
		endpoint   = flag.String("endpoint", "", "unix socket path the CSI services listen on (required)")
		regSocket  = flag.String("registration-socket", "", "unix socket in kubelet's plugins_registry directory; empty: do not register with kubelet")
		stateDir   = flag.String("state-dir", "", "directory holding volume metadata and the tmpfs mounts (required)")
		nodeID     = flag.String("node-id", "", "node name reported by NodeGetInfo (required)")
		driverName = flag.String("driver-name", "tmpfs.csi.cnpg-disk.test", "CSI driver name")
	)
	flag.Parse()
	if *endpoint == "" || *stateDir == "" || *nodeID == "" {
		fmt.Fprintln(os.Stderr, "csi-tmpfs: --endpoint, --state-dir and --node-id are required")
		os.Exit(2)
	}
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	d, err := newDriver(*driverName, *nodeID, *stateDir)
	if err != nil {
		log.Fatalf("csi-tmpfs: %v", err)
	}

	csiServer := grpc.NewServer(grpc.UnaryInterceptor(logCalls))
	csi.RegisterIdentityServer(csiServer, d)
	csi.RegisterControllerServer(csiServer, d)
	csi.RegisterNodeServer(csiServer, d)
	csiListener, err := listenUnix(*endpoint)
	if err != nil {
		log.Fatalf("csi-tmpfs: %v", err)
	}
	go func() {
		if err := csiServer.Serve(csiListener); err != nil {
			log.Fatalf("csi-tmpfs: serving CSI: %v", err)
		}
	}()
	log.Printf("csi-tmpfs %s: driver %s, node %s, CSI on %s, state in %s", version, *driverName, *nodeID, *endpoint, *stateDir)

	var regServer *grpc.Server
	if *regSocket != "" {
		regServer = grpc.NewServer()
		registerapi.RegisterRegistrationServer(regServer, &registration{name: *driverName, endpoint: *endpoint})
		regListener, err := listenUnix(*regSocket)
		if err != nil {
			log.Fatalf("csi-tmpfs: %v", err)
		}
		go func() {
			if err := regServer.Serve(regListener); err != nil {
				log.Fatalf("csi-tmpfs: serving plugin registration: %v", err)
			}
		}()
		log.Printf("csi-tmpfs: kubelet plugin registration on %s", *regSocket)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	s := <-sig
	log.Printf("csi-tmpfs: %v, stopping (volumes stay mounted)", s)
	if regServer != nil {
		regServer.Stop()
		_ = os.Remove(*regSocket)
	}
	csiServer.Stop()
	_ = os.Remove(*endpoint)
}

func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return net.Listen("unix", path)
}

func logCalls(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		log.Printf("%s(%v) failed: %v", info.FullMethod, req, err)
	} else if info.FullMethod != "/csi.v1.Identity/Probe" && info.FullMethod != "/csi.v1.Node/NodeGetVolumeStats" {
		log.Printf("%s(%v) = %v", info.FullMethod, req, resp)
	}
	return resp, err
}

// registration answers kubelet's plugin watcher (pluginregistration v1).
type registration struct {
	registerapi.UnimplementedRegistrationServer
	name     string
	endpoint string
}

func (r *registration) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{
		Type:              registerapi.CSIPlugin,
		Name:              r.name,
		Endpoint:          r.endpoint,
		SupportedVersions: []string{"1.0.0"},
	}, nil
}

func (r *registration) NotifyRegistrationStatus(_ context.Context, st *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	if st.PluginRegistered {
		log.Printf("csi-tmpfs: registered with kubelet")
	} else {
		log.Printf("csi-tmpfs: kubelet refused the registration: %s", st.Error)
	}
	return &registerapi.RegistrationStatusResponse{}, nil
}
