// Package prevent turns runtime alerts into responses and keeps container
// baselines. A Policy (YAML) maps rules, by name or tag, to actions —
// alert, kill (the process), pause or stop (the container, through the
// Docker Engine API), deny (an in-kernel fanotify block of exec/open path
// sets) — and puts containers, selected by image, name or labels, in a
// mode: learn (record a baseline profile), monitor (alert outside it) or
// protect (alert and enforce: exec outside the baseline is denied in the
// kernel, rule actions are carried out).
//
// The sensor calls Responder.Observe for every event and Responder.Handle
// for every alert. Every action is logged with the triggering event's key
// fields and returned as an ActionRecord; a dry run logs "would …" and
// does nothing.
//
// Sub-packages: fanotify (the permission-event gate) and profile (baseline
// storage, learning and comparison).
//
// Allowed imports: the standard library, golang.org/x/sys/unix, yaml.v3,
// the moby client (types and the narrow DockerAPI interface), the rules
// package (events and alerts) and its own sub-packages. It must not import
// the sensor or the CLI.
package prevent
