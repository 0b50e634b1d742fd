# SPDX-License-Identifier: MIT
"""The live helper implements exactly the documented interface.

reptyrd is activated on the private bus by an unprivileged client's
`busctl introspect`; its org.reptyr.Reptyr1 interface must match
dbus/org.reptyr.Reptyr1.xml: the same methods with the same argument names,
types and directions, the same properties with the same types, access and
change-signal behaviour, no signals that are not documented. Every method
must be callable by unprivileged clients (sd-bus marks methods that lack
SD_BUS_VTABLE_UNPRIVILEGED with the org.freedesktop.systemd1.Privileged
annotation). The properties read as documented."""

import json
import os
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import rig  # noqa: E402
from testlib import Failure, Skip, expect  # noqa: E402

ap = rig.arg_parser(__doc__)
ap.add_argument("--interface-xml", required=True)
ap.add_argument("--version", required=True)
args = ap.parse_args()

ECS = "org.freedesktop.DBus.Property.EmitsChangedSignal"
PRIVILEGED = "org.freedesktop.systemd1.Privileged"


def interface(xml_text, source):
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as e:
        raise Failure(f"{source}: not XML: {e}")
    for i in root.iter("interface"):
        if i.get("name") == rig.BUS_NAME:
            return i
    raise Failure(f"{source}: no interface {rig.BUS_NAME}")


def annotations(el):
    return {a.get("name"): a.get("value") for a in el.findall("annotation")}


def shape(iface):
    """What a client relies on, in a comparable form."""
    methods = {}
    for m in iface.findall("method"):
        methods[m.get("name")] = [(a.get("name"), a.get("type"), a.get("direction", "in"))
                                  for a in m.findall("arg")]
    props = {}
    for p in iface.findall("property"):
        # D-Bus default: a property emits PropertiesChanged ("true").
        props[p.get("name")] = (p.get("type"), p.get("access"),
                                annotations(p).get(ECS, "true"))
    signals = {}
    for s in iface.findall("signal"):
        signals[s.get("name")] = [(a.get("name"), a.get("type")) for a in s.findall("arg")]
    return {"methods": methods, "properties": props, "signals": signals}


def setup():
    if not args.reptyrd:
        raise Skip("--reptyrd not given")
    rules = {}
    if args.default_rules:
        with open(args.default_rules) as f:
            rules["50-reptyr.rules"] = f.read()
    return rig.Rig(bus_policy=args.bus_policy, polkit_policy=args.polkit_policy,
                   reptyrd=args.reptyrd, rules=rules)


state = {}


def check_activated_by_unprivileged_introspect(r):
    p = r.busctl("--xml-interface", "introspect", rig.BUS_NAME, rig.BUS_PATH, user="nobody")
    expect(p.returncode == 0, f"busctl introspect as nobody: {p.stderr.strip()}\n{r.logs()}")
    state["live"] = p.stdout
    pid = r.helper_pid()
    expect(pid is not None, "nobody owns org.reptyr.Reptyr1 after the introspection")
    expect(pid in r.bus_started_pids(), f"the name's owner {pid} was not started by our bus")


def check_matches_xml(r):
    with open(args.interface_xml) as f:
        documented = shape(interface(f.read(), args.interface_xml))
    live = shape(interface(state["live"], "busctl introspect"))
    problems = []
    for kind in ("methods", "properties", "signals"):
        d, lv = documented[kind], live[kind]
        for name in sorted(set(d) | set(lv)):
            if name not in lv:
                problems.append(f"{kind[:-1]} {name}: documented, not implemented")
            elif name not in d:
                problems.append(f"{kind[:-1]} {name}: implemented, not documented")
            elif d[name] != lv[name]:
                problems.append(f"{kind[:-1]} {name}: documented {d[name]}, live {lv[name]}")
    expect(not problems, "\n  " + "\n  ".join(problems))


def check_methods_unprivileged(r):
    iface = interface(state["live"], "busctl introspect")
    privileged = [m.get("name") for m in iface.findall("method")
                  if annotations(m).get(PRIVILEGED) == "true"]
    expect(not privileged, f"methods without SD_BUS_VTABLE_UNPRIVILEGED: {privileged}")


def check_properties(r):
    p = r.busctl("--json=short", "call", rig.BUS_NAME, rig.BUS_PATH,
                 "org.freedesktop.DBus.Properties", "GetAll", "s", rig.BUS_NAME, user="nobody")
    expect(p.returncode == 0, f"GetAll as nobody: {p.stderr.strip()}")
    props = {k: v["data"] for k, v in json.loads(p.stdout)["data"][0].items()}
    expect(props.get("Version") == args.version,
           f"Version {props.get('Version')!r}, expected {args.version!r}")
    archs = props.get("Architectures")
    expect(isinstance(archs, list) and archs and all(isinstance(a, str) and a for a in archs),
           f"Architectures {archs!r}")
    want = -1 if not os.path.exists("/proc/sys/kernel/yama/ptrace_scope") else \
        int(open("/proc/sys/kernel/yama/ptrace_scope").read())
    expect(props.get("PtraceScope") == want, f"PtraceScope {props.get('PtraceScope')!r}, "
           f"expected {want} (this machine's Yama setting)")


def check_set_refused(r):
    p = r.busctl("set-property", rig.BUS_NAME, rig.BUS_PATH, rig.BUS_NAME, "PtraceScope", "i",
                 "0", user="nobody")
    expect(p.returncode != 0, "setting PtraceScope as nobody succeeded")


rig.run_checks([
    ("an unprivileged introspection activates reptyrd", check_activated_by_unprivileged_introspect),
    ("the live interface matches org.reptyr.Reptyr1.xml", check_matches_xml),
    ("every method is callable by unprivileged clients", check_methods_unprivileged),
    ("Version, Architectures and PtraceScope read as documented", check_properties),
    ("properties cannot be set", check_set_refused),
], setup=setup)
