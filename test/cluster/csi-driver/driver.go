package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const (
	pageSize    = 4096
	defaultSize = 1 << 30
)

// volume is what the controller side remembers about a volume: the size of the
// "disk" (the PV capacity). The filesystem size is the tmpfs size, which only
// NodeExpandVolume changes, exactly like a block disk whose filesystem is
// grown by the node plugin after the cloud grew the disk.
type volume struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	CapacityBytes int64  `json:"capacityBytes"`
}

type driver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer

	name     string
	nodeID   string
	stateDir string
	mu       sync.Mutex
}

var validID = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{0,252}$`)

func newDriver(name, nodeID, stateDir string) (*driver, error) {
	for _, sub := range []string{"volumes", "mnt", "faults"} {
		if err := os.MkdirAll(filepath.Join(stateDir, sub), 0o750); err != nil {
			return nil, err
		}
	}
	return &driver{name: name, nodeID: nodeID, stateDir: stateDir}, nil
}

func (d *driver) metaPath(id string) string { return filepath.Join(d.stateDir, "volumes", id+".json") }
func (d *driver) mountDir(id string) string { return filepath.Join(d.stateDir, "mnt", id) }

// fault returns an error while the named fault file exists.
func (d *driver) fault(name string) error {
	b, err := os.ReadFile(filepath.Join(d.stateDir, "faults", name))
	if err != nil {
		return nil
	}
	msg := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	if msg == "" {
		msg = "injected failure (" + name + ")"
	}
	return status.Error(codes.Internal, msg)
}

func (d *driver) load(id string) (*volume, error) {
	if !validID.MatchString(id) {
		return nil, status.Errorf(codes.NotFound, "volume %q does not exist", id)
	}
	b, err := os.ReadFile(d.metaPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, status.Errorf(codes.NotFound, "volume %q does not exist", id)
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	var v volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, status.Errorf(codes.Internal, "volume %q: corrupt metadata: %v", id, err)
	}
	return &v, nil
}

func (d *driver) save(v *volume) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	tmp := d.metaPath(v.ID) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, d.metaPath(v.ID))
}

// size rounds a capacity range to whole pages (tmpfs sizes are page multiples).
func size(r *csi.CapacityRange, fallback int64) (int64, error) {
	req, lim := int64(0), int64(0)
	if r != nil {
		req, lim = r.RequiredBytes, r.LimitBytes
	}
	if req < 0 || lim < 0 {
		return 0, status.Error(codes.InvalidArgument, "negative capacity")
	}
	if req == 0 {
		req = fallback
	}
	if lim > 0 && req > lim {
		return 0, status.Errorf(codes.OutOfRange, "required %d bytes exceeds the limit of %d bytes", req, lim)
	}
	n := (req + pageSize - 1) / pageSize * pageSize
	if lim > 0 && n > lim {
		return 0, status.Errorf(codes.OutOfRange, "%d bytes rounded to whole pages (%d) exceeds the limit of %d bytes", req, n, lim)
	}
	return n, nil
}

func mountTmpfs(dir, id string, bytes int64) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	mounted, err := isMountPoint(dir)
	if err != nil || mounted {
		return err
	}
	return unix.Mount("csi-"+id, dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0755", bytes))
}

func unmount(dir string) error {
	for {
		mounted, err := isMountPoint(dir)
		if err != nil {
			return err
		}
		if !mounted {
			return nil
		}
		if err := unix.Unmount(dir, 0); err != nil {
			if errors.Is(err, unix.EBUSY) {
				if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
					return err
				}
				continue
			}
			return err
		}
	}
}

// isMountPoint tells whether path is a mount point (reading /proc/self/mountinfo,
// which, unlike comparing device numbers, also sees bind mounts).
func isMountPoint(path string) (bool, error) {
	clean := filepath.Clean(path)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountPath(fields[4]) == clean {
			return true, nil
		}
	}
	return false, sc.Err()
}

func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func statfs(path string) (*unix.Statfs_t, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

func checkCapabilities(caps []*csi.VolumeCapability) error {
	if len(caps) == 0 {
		return status.Error(codes.InvalidArgument, "volume capabilities missing")
	}
	for _, c := range caps {
		if c.GetBlock() != nil {
			return status.Error(codes.InvalidArgument, "block volumes are not supported (tmpfs is a filesystem)")
		}
		if c.GetMount() == nil {
			return status.Error(codes.InvalidArgument, "access type missing")
		}
	}
	return nil
}

// ---- Identity ----

func (d *driver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: d.name, VendorVersion: version}, nil
}

func (d *driver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{
		{Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: csi.PluginCapability_Service_CONTROLLER_SERVICE}}},
		{Type: &csi.PluginCapability_VolumeExpansion_{VolumeExpansion: &csi.PluginCapability_VolumeExpansion{Type: csi.PluginCapability_VolumeExpansion_ONLINE}}},
	}}, nil
}

func (d *driver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{}, nil
}

// ---- Controller ----

func (d *driver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	rpc := func(t csi.ControllerServiceCapability_RPC_Type) *csi.ControllerServiceCapability {
		return &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: t}}}
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: []*csi.ControllerServiceCapability{
		rpc(csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME),
		rpc(csi.ControllerServiceCapability_RPC_EXPAND_VOLUME),
	}}, nil
}

func (d *driver) CreateVolume(_ context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	id := strings.ToLower(req.GetName())
	if !validID.MatchString(id) {
		return nil, status.Errorf(codes.InvalidArgument, "invalid volume name %q", req.GetName())
	}
	if err := checkCapabilities(req.GetVolumeCapabilities()); err != nil {
		return nil, err
	}
	if req.GetVolumeContentSource() != nil {
		return nil, status.Error(codes.InvalidArgument, "volume content sources (snapshots, clones) are not supported")
	}
	n, err := size(req.GetCapacityRange(), defaultSize)
	if err != nil {
		return nil, err
	}
	if err := d.fault("create"); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if v, err := d.load(id); err == nil {
		lim := req.GetCapacityRange().GetLimitBytes()
		if v.CapacityBytes < n || (lim > 0 && v.CapacityBytes > lim) {
			return nil, status.Errorf(codes.AlreadyExists, "volume %q exists with %d bytes", id, v.CapacityBytes)
		}
		if err := mountTmpfs(d.mountDir(id), id, v.CapacityBytes); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		return &csi.CreateVolumeResponse{Volume: &csi.Volume{VolumeId: id, CapacityBytes: v.CapacityBytes}}, nil
	}
	if err := mountTmpfs(d.mountDir(id), id, n); err != nil {
		return nil, status.Errorf(codes.Internal, "mounting tmpfs: %v", err)
	}
	v := &volume{ID: id, Name: req.GetName(), CapacityBytes: n}
	if err := d.save(v); err != nil {
		_ = unmount(d.mountDir(id))
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{VolumeId: id, CapacityBytes: n}}, nil
}

func (d *driver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	id := req.GetVolumeId()
	if id == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id missing")
	}
	if !validID.MatchString(id) {
		return &csi.DeleteVolumeResponse{}, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := unmount(d.mountDir(id)); err != nil {
		return nil, status.Errorf(codes.Internal, "unmounting: %v", err)
	}
	if err := os.Remove(d.mountDir(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := os.Remove(d.metaPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (d *driver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	if _, err := d.load(req.GetVolumeId()); err != nil {
		return nil, err
	}
	if err := checkCapabilities(req.GetVolumeCapabilities()); err != nil {
		return &csi.ValidateVolumeCapabilitiesResponse{Message: err.Error()}, nil
	}
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeContext:      req.GetVolumeContext(),
		VolumeCapabilities: req.GetVolumeCapabilities(),
		Parameters:         req.GetParameters(),
	}}, nil
}

func (d *driver) ControllerExpandVolume(_ context.Context, req *csi.ControllerExpandVolumeRequest) (*csi.ControllerExpandVolumeResponse, error) {
	n, err := size(req.GetCapacityRange(), 0)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, status.Error(codes.InvalidArgument, "capacity range missing")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.load(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if err := d.fault("controller-expand"); err != nil {
		return nil, err
	}
	if n > v.CapacityBytes {
		v.CapacityBytes = n
		if err := d.save(v); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return &csi.ControllerExpandVolumeResponse{CapacityBytes: v.CapacityBytes, NodeExpansionRequired: true}, nil
}

// ---- Node ----

func (d *driver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: d.nodeID}, nil
}

func (d *driver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	rpc := func(t csi.NodeServiceCapability_RPC_Type) *csi.NodeServiceCapability {
		return &csi.NodeServiceCapability{Type: &csi.NodeServiceCapability_Rpc{Rpc: &csi.NodeServiceCapability_RPC{Type: t}}}
	}
	return &csi.NodeGetCapabilitiesResponse{Capabilities: []*csi.NodeServiceCapability{
		rpc(csi.NodeServiceCapability_RPC_GET_VOLUME_STATS),
		rpc(csi.NodeServiceCapability_RPC_EXPAND_VOLUME),
	}}, nil
}

func (d *driver) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	target := req.GetTargetPath()
	if target == "" {
		return nil, status.Error(codes.InvalidArgument, "target path missing")
	}
	if err := checkCapabilities([]*csi.VolumeCapability{req.GetVolumeCapability()}); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.load(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	src := d.mountDir(v.ID)
	if mounted, err := isMountPoint(src); err != nil || !mounted {
		// The backing tmpfs is gone (the host rebooted): its data is lost, say so.
		return nil, status.Errorf(codes.Internal, "backing tmpfs of volume %q is not mounted at %s", v.ID, src)
	}
	if err := os.MkdirAll(target, 0o750); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if mounted, err := isMountPoint(target); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	} else if mounted {
		return &csi.NodePublishVolumeResponse{}, nil
	}
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return nil, status.Errorf(codes.Internal, "bind mount: %v", err)
	}
	if req.GetReadonly() {
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			_ = unix.Unmount(target, 0)
			return nil, status.Errorf(codes.Internal, "read-only remount: %v", err)
		}
	}
	return &csi.NodePublishVolumeResponse{}, nil
}

func (d *driver) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	target := req.GetTargetPath()
	if target == "" || req.GetVolumeId() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id or target path missing")
	}
	if err := unmount(target); err != nil {
		return nil, status.Errorf(codes.Internal, "unmount: %v", err)
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

func (d *driver) NodeGetVolumeStats(_ context.Context, req *csi.NodeGetVolumeStatsRequest) (*csi.NodeGetVolumeStatsResponse, error) {
	if req.GetVolumeId() == "" || req.GetVolumePath() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id or path missing")
	}
	if _, err := d.load(req.GetVolumeId()); err != nil {
		return nil, err
	}
	st, err := statfs(req.GetVolumePath())
	if errors.Is(err, unix.ENOENT) {
		return nil, status.Errorf(codes.NotFound, "%s does not exist", req.GetVolumePath())
	}
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	bs := int64(st.Bsize)
	return &csi.NodeGetVolumeStatsResponse{
		Usage: []*csi.VolumeUsage{
			{Unit: csi.VolumeUsage_BYTES, Total: int64(st.Blocks) * bs, Available: int64(st.Bavail) * bs, Used: int64(st.Blocks-st.Bfree) * bs},
			{Unit: csi.VolumeUsage_INODES, Total: int64(st.Files), Available: int64(st.Ffree), Used: int64(st.Files - st.Ffree)},
		},
	}, nil
}

func (d *driver) NodeExpandVolume(_ context.Context, req *csi.NodeExpandVolumeRequest) (*csi.NodeExpandVolumeResponse, error) {
	if req.GetVolumeId() == "" || req.GetVolumePath() == "" {
		return nil, status.Error(codes.InvalidArgument, "volume id or path missing")
	}
	n, err := size(req.GetCapacityRange(), 0)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	v, err := d.load(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if err := d.fault("node-expand"); err != nil {
		return nil, err
	}
	if v.CapacityBytes > n {
		n = v.CapacityBytes
	}
	dir := d.mountDir(v.ID)
	st, err := statfs(dir)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if cur := int64(st.Blocks) * int64(st.Bsize); cur >= n {
		return &csi.NodeExpandVolumeResponse{CapacityBytes: cur}, nil
	}
	// Online: the pod's bind mount shares the superblock and sees the new size at once.
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d", n)); err != nil {
		return nil, status.Errorf(codes.Internal, "growing tmpfs to %d bytes: %v", n, err)
	}
	return &csi.NodeExpandVolumeResponse{CapacityBytes: n}, nil
}
