// A CNPG-I client for the plugin's tests, built from the cnpg-i module's
// generated code (the version CloudNativePG v1.29.1 requires) and dialled the
// way CloudNativePG dials plugins: over TCP with the operator's TLS settings
// (the server secret's certificate as the only root, our client certificate,
// TLS 1.3 minimum, the Service name as server name), or over a unix socket
// without TLS as the instance manager does.
//
// It also builds a real instance Pod with CloudNativePG's own pod builder and
// applies a lifecycle patch with the JSON-patch library the operator uses,
// then decodes the result with the Kubernetes deserializer the operator uses.
//
// Usage: grpc-client [transport flags] <call> [files...]; prints one JSON
// document on stdout; exit 0 ok, 3 when an RPC fails (the status is printed),
// 2 on bad usage.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	apiv1 "github.com/cloudnative-pg/cloudnative-pg/api/v1"
	"github.com/cloudnative-pg/cloudnative-pg/pkg/specs"
	"github.com/cloudnative-pg/cnpg-i/pkg/identity"
	"github.com/cloudnative-pg/cnpg-i/pkg/lifecycle"
	"github.com/cloudnative-pg/cnpg-i/pkg/metrics"
	"github.com/cloudnative-pg/cnpg-i/pkg/operator"
	jsonpatch "github.com/evanphx/json-patch/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

var (
	addr       = flag.String("addr", "", "host:port (TLS) or unix:///path (no TLS)")
	serverCert = flag.String("server-cert", "", "PEM: the server secret's tls.crt, the only root (TLS)")
	clientCert = flag.String("client-cert", "", "PEM: our client certificate (TLS)")
	clientKey  = flag.String("client-key", "", "PEM: its key (TLS)")
	serverName = flag.String("server-name", "", "server name to verify (TLS); CloudNativePG uses the Service name")
	maxTLS12   = flag.Bool("max-tls12", false, "offer TLS 1.2 at most (to prove the server refuses it)")
)

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(code)
}

func readFile(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		fail(2, "cannot read %s: %v", path, err)
	}
	return b
}

func dial() *grpc.ClientConn {
	if *addr == "" {
		fail(2, "-addr is required")
	}
	var creds credentials.TransportCredentials
	if len(*addr) > 7 && (*addr)[:7] == "unix://" {
		creds = insecure.NewCredentials()
	} else {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(readFile(*serverCert)) {
			fail(2, "no certificate in %s", *serverCert)
		}
		cfg := &tls.Config{ServerName: *serverName, RootCAs: pool, MinVersion: tls.VersionTLS13}
		if *clientCert != "" {
			pair, err := tls.X509KeyPair(readFile(*clientCert), readFile(*clientKey))
			if err != nil {
				fail(2, "client key pair: %v", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		if *maxTLS12 {
			cfg.MinVersion = tls.VersionTLS12
			cfg.MaxVersion = tls.VersionTLS12
		}
		creds = credentials.NewTLS(cfg)
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		fail(2, "dial: %v", err)
	}
	return conn
}

// out collects the results of the calls, each as its protojson document.
var out = map[string]json.RawMessage{}

func record(name string, m proto.Message, err error) {
	if err != nil {
		s, _ := status.FromError(err)
		doc, _ := json.Marshal(map[string]any{"call": name, "code": s.Code().String(), "message": s.Message()})
		fmt.Println(string(doc))
		os.Exit(3)
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false}.Marshal(m)
	if err != nil {
		fail(1, "marshal %s: %v", name, err)
	}
	out[name] = b
}

func print() {
	b, _ := json.Marshal(out)
	fmt.Println(string(b))
}

// instancePod builds the Pod CloudNativePG creates for instance `serial` of the Cluster in file.
func instancePod(clusterFile string, serial int) *corev1.Pod {
	var cluster apiv1.Cluster
	if err := json.Unmarshal(readFile(clusterFile), &cluster); err != nil {
		fail(2, "cluster: %v", err)
	}
	cluster.SetDefaults()
	// The operator resolves the image into the status before it builds Pods.
	if cluster.Status.Image == "" {
		cluster.Status.Image = cluster.Spec.ImageName
	}
	pod, err := specs.NewInstance(context.Background(), cluster, serial, true)
	if err != nil {
		fail(1, "NewInstance: %v", err)
	}
	pod.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Pod"))
	return pod
}

func main() {
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fail(2, "missing call")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	switch args[0] {
	case "instance-pod": // instance-pod CLUSTER.json SERIAL: the Pod CloudNativePG builds, no plugin applied
		var serial int
		fmt.Sscan(args[2], &serial)
		b, _ := json.Marshal(instancePod(args[1], serial))
		fmt.Println(string(b))
		return
	case "identity":
		c := identity.NewIdentityClient(dial())
		m, err := c.GetPluginMetadata(ctx, &identity.GetPluginMetadataRequest{})
		record("metadata", m, err)
		caps, err := c.GetPluginCapabilities(ctx, &identity.GetPluginCapabilitiesRequest{})
		record("capabilities", caps, err)
		p, err := c.Probe(ctx, &identity.ProbeRequest{})
		record("probe", p, err)
	case "operator": // operator CLUSTER.json [OLD.json]: capabilities, ValidateClusterCreate, ValidateClusterChange
		c := operator.NewOperatorClient(dial())
		caps, err := c.GetCapabilities(ctx, &operator.OperatorCapabilitiesRequest{})
		record("capabilities", caps, err)
		if len(args) > 1 {
			def := readFile(args[1])
			r, err := c.ValidateClusterCreate(ctx, &operator.OperatorValidateClusterCreateRequest{Definition: def})
			record("validateCreate", r, err)
			old := def
			if len(args) > 2 {
				old = readFile(args[2])
			}
			ch, err := c.ValidateClusterChange(ctx, &operator.OperatorValidateClusterChangeRequest{OldCluster: old, NewCluster: def})
			record("validateChange", ch, err)
		}
	case "lifecycle": // lifecycle OPERATION CLUSTER.json [POD.json]: the hook on a Pod (built by CloudNativePG unless given)
		c := lifecycle.NewOperatorLifecycleClient(dial())
		caps, err := c.GetCapabilities(ctx, &lifecycle.OperatorLifecycleCapabilitiesRequest{})
		record("capabilities", caps, err)
		if len(args) > 2 {
			op := lifecycle.OperatorOperationType_Type(lifecycle.OperatorOperationType_Type_value[args[1]])
			clusterJSON := readFile(args[2])
			var podJSON []byte
			if len(args) > 3 {
				podJSON = readFile(args[3])
			} else {
				podJSON, _ = json.Marshal(instancePod(args[2], 1))
			}
			r, err := c.LifecycleHook(ctx, &lifecycle.OperatorLifecycleRequest{
				OperationType:     &lifecycle.OperatorOperationType{Type: op},
				ClusterDefinition: clusterJSON,
				ObjectDefinition:  podJSON,
			})
			record("hook", r, err)
			patched := podJSON
			if len(r.JsonPatch) > 0 {
				// As the operator does: decode the patch, apply it, decode the Pod.
				patch, err := jsonpatch.DecodePatch(r.JsonPatch)
				if err != nil {
					fail(1, "decode patch: %v", err)
				}
				if patched, err = patch.Apply(podJSON); err != nil {
					fail(1, "apply patch: %v", err)
				}
				if _, _, err := scheme.Codecs.UniversalDeserializer().Decode(patched, nil, nil); err != nil {
					fail(1, "decode patched pod: %v", err)
				}
			}
			out["pod"] = podJSON
			out["patchedPod"] = patched
		}
	case "metrics": // metrics CLUSTER.json: capabilities, Define, Collect
		c := metrics.NewMetricsClient(dial())
		caps, err := c.GetCapabilities(ctx, &metrics.MetricsCapabilitiesRequest{})
		record("capabilities", caps, err)
		def := []byte("{}")
		if len(args) > 1 {
			def = readFile(args[1])
		}
		d, err := c.Define(ctx, &metrics.DefineMetricsRequest{ClusterDefinition: def})
		record("define", d, err)
		col, err := c.Collect(ctx, &metrics.CollectMetricsRequest{ClusterDefinition: def})
		record("collect", col, err)
	default:
		fail(2, "unknown call %q", args[0])
	}
	print()
}
