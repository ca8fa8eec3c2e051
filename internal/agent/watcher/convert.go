package watcher

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/events"

	"github.com/bulkhead-sec/bulkhead/internal/inventory/api"
)

// fromInspect turns an inspect answer into the inventory's container record.
func fromInspect(in *container.InspectResponse, host string) api.Container {
	c := api.Container{
		ID:           in.ID,
		Name:         strings.TrimPrefix(in.Name, "/"),
		Host:         host,
		ImageID:      in.Image,
		RestartCount: in.RestartCount,
		Created:      parseTime(in.Created),
	}
	if len(in.Args) > 0 || in.Path != "" {
		c.Command = append([]string{in.Path}, in.Args...)
	}
	if cfg := in.Config; cfg != nil {
		c.ImageRef = cfg.Image
		c.Labels = cfg.Labels
		c.User = cfg.User
	}
	if st := in.State; st != nil {
		c.State = string(st.Status)
		c.Started = parseTime(st.StartedAt)
		c.Finished = parseTime(st.FinishedAt)
		if st.Status == container.StateExited || st.Status == container.StateDead {
			code := st.ExitCode
			c.ExitCode = &code
		}
	}
	if hc := in.HostConfig; hc != nil {
		c.Privileged = hc.Privileged
		c.CapAdd = slices.Clone(hc.CapAdd)
		c.CapDrop = slices.Clone(hc.CapDrop)
	}
	for _, m := range in.Mounts {
		c.Mounts = append(c.Mounts, api.Mount{Type: string(m.Type), Source: m.Source, Destination: m.Destination, RW: m.RW})
	}
	if ns := in.NetworkSettings; ns != nil {
		names := make([]string, 0, len(ns.Networks))
		for n := range ns.Networks {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			ep := ns.Networks[n]
			if ep == nil {
				continue
			}
			nw := api.Network{Name: n, MAC: ep.MacAddress.String()}
			if ep.IPAddress.IsValid() {
				nw.IP = ep.IPAddress.String()
			}
			if ep.GlobalIPv6Address.IsValid() {
				nw.IPv6 = ep.GlobalIPv6Address.String()
			}
			c.Networks = append(c.Networks, nw)
		}
		for p, binds := range ns.Ports {
			if len(binds) == 0 {
				c.Ports = append(c.Ports, api.Port{ContainerPort: p.Num(), Protocol: string(p.Proto())})
			}
			for _, b := range binds {
				hp, _ := strconv.ParseUint(b.HostPort, 10, 16)
				port := api.Port{ContainerPort: p.Num(), Protocol: string(p.Proto()), HostPort: uint16(hp)}
				if b.HostIP.IsValid() {
					port.HostIP = b.HostIP.String()
				}
				c.Ports = append(c.Ports, port)
			}
		}
		slices.SortFunc(c.Ports, func(a, b api.Port) int {
			if a.ContainerPort != b.ContainerPort {
				return int(a.ContainerPort) - int(b.ContainerPort)
			}
			return strings.Compare(a.Protocol+a.HostIP, b.Protocol+b.HostIP)
		})
	}
	if c.State == "" {
		c.State = api.StateCreated
	}
	return c
}

// Attribute keys Docker puts on container events besides the labels.
var eventKeys = map[string]bool{"name": true, "image": true, "exitCode": true, "signal": true, "oldName": true, "execID": true, "execDuration": true}

// fromEvent is what a container event alone says: used when the container
// is gone before it could be inspected.
func fromEvent(ev *events.Message, host string) api.Container {
	c := api.Container{ID: ev.Actor.ID, Host: host, State: api.StateCreated}
	a := ev.Actor.Attributes
	c.Name = a["name"]
	c.ImageRef = a["image"]
	if strings.HasPrefix(c.ImageRef, "sha256:") && api.ValidImageID(c.ImageRef) {
		c.ImageID = c.ImageRef
	}
	for k, v := range a {
		if eventKeys[k] {
			continue
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[k] = v
	}
	return c
}

// applyEvent sets what the event itself tells: the state it moves the
// container to, and the lifecycle timestamp it marks.
func applyEvent(c *api.Container, ev *events.Message) {
	t := eventTime(ev)
	switch ev.Action {
	case events.ActionCreate:
		c.State = api.StateCreated
		if c.Created == nil {
			c.Created = &t
		}
	case events.ActionStart, events.ActionRestart, events.ActionUnPause:
		c.State = api.StateRunning
		if ev.Action != events.ActionUnPause && (c.Started == nil || c.Started.Before(t.Add(-time.Second))) {
			// Keep the engine's exact StartedAt when it is this start.
			c.Started = &t
		}
		if ev.Action != events.ActionUnPause && c.Finished != nil && c.Finished.Before(*c.Started) {
			c.Finished, c.ExitCode = nil, nil
		}
	case events.ActionPause:
		c.State = api.StatePaused
	case events.ActionDie:
		c.State = api.StateExited
		if c.Finished == nil || c.Finished.Before(t.Add(-time.Second)) {
			c.Finished = &t
		}
		if s, ok := ev.Actor.Attributes["exitCode"]; ok {
			if code, err := strconv.Atoi(s); err == nil {
				c.ExitCode = &code
			}
		}
	case events.ActionDestroy:
		c.State = api.StateDestroyed
		c.Destroyed = &t
	case events.ActionRename:
		if n := ev.Actor.Attributes["name"]; n != "" {
			c.Name = strings.TrimPrefix(n, "/")
		}
	}
	c.ObservedAt = t
}

func eventTime(ev *events.Message) time.Time {
	if ev.TimeNano != 0 {
		return time.Unix(0, ev.TimeNano).UTC()
	}
	return time.Unix(ev.Time, 0).UTC()
}

// parseTime reads the engine's RFC 3339 timestamps; the zero time
// ("0001-01-01T00:00:00Z", never started or finished) is nil.
func parseTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.Year() <= 1 {
		return nil
	}
	t = t.UTC()
	return &t
}
