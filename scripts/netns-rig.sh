#!/usr/bin/env bash
# A cluster of "machines" on one box: one Linux network namespace per process (silo, gateway, PostgreSQL, …), each
# with its own address in 10.231.0.0/16 on a veth pair plugged into the bridge nxbr0 (the host side is 10.231.0.1,
# so the test runner reaches every namespace). Links between two namespaces can be cut (iptables DROP inside both
# namespaces), degraded (tc netem on the traffic between them) and restored. Needs root, iproute2 and iptables.
#
# The rig only ever touches what it created: namespaces nx-*, veths nxv-*, the bridge nxbr0. `up` removes a
# leftover of an earlier run first; `down` removes everything (killing processes still running in nx-* namespaces),
# also after a crash.
#
#   netns-rig.sh up                      bridge nxbr0 (10.231.0.1/16), after removing any leftover
#   netns-rig.sh add NAME ADDRESS        namespace nx-NAME with ADDRESS (10.231.x.y) on the bridge
#   netns-rig.sh cut A B                 drop every packet between nx-A and nx-B (both directions)
#   netns-rig.sh heal A B                undo `cut A B`
#   netns-rig.sh lossy A B PERCENT       drop PERCENT % of the packets between nx-A and nx-B at random (iptables)
#   netns-rig.sh degrade A B NETEM…      tc netem (e.g. "delay 200ms") on the traffic between nx-A and nx-B; needs a
#                                        kernel with sch_netem (the Firecracker VMs of this project's CI have none)
#   netns-rig.sh delay A B PORT MS       without netem: MS ms more each way on nx-A's TCP connections to nx-B:PORT,
#                                        through a relay (tests/DelayProxy, built) running in nx-A; connections
#                                        already open are reset so that they reconnect through it
#   netns-rig.sh clear A B               remove every loss and degradation between nx-A and nx-B
#   netns-rig.sh status                  namespaces, addresses, cuts and qdiscs
#   netns-rig.sh down                    remove everything
set -euo pipefail

BRIDGE=nxbr0
HOST_ADDRESS=10.231.0.1
PREFIX=16

die() { echo "netns-rig: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root"
command -v ip >/dev/null || die "ip not found (apt-get install iproute2)"
command -v iptables >/dev/null || die "iptables not found (apt-get install iptables)"

# NAME → namespace and host-side veth; interface names are limited to 15 characters.
check_name() { [[ "$1" =~ ^[a-z0-9]{1,11}$ ]] || die "name '$1': 1-11 lower-case letters or digits"; }
namespace() { check_name "$1"; echo "nx-$1"; }
address_of() {
    ip -n "$(namespace "$1")" -4 -o addr show dev eth0 2>/dev/null | awk '{split($4, a, "/"); print a[1]}' | head -1
}
in_ns() { local ns; ns=$(namespace "$1"); shift; ip netns exec "$ns" "$@"; }

rig_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep '^nx-' || true; }

down() {
    for ns in $(rig_namespaces); do
        # Processes the rig started in this namespace (silos, gateways, PostgreSQL): a namespace outlives nothing.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^nxv-' || true); do
        ip link del "$link" 2>/dev/null || true
    done
    ip link del "$BRIDGE" 2>/dev/null || true
}

up() {
    down
    ip link add "$BRIDGE" type bridge
    ip addr add "$HOST_ADDRESS/$PREFIX" dev "$BRIDGE"
    ip link set "$BRIDGE" up
}

add() {
    local name=$1 address=$2 ns
    ns=$(namespace "$name")
    [[ "$address" =~ ^10\.231\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "address '$address' is not in 10.231.0.0/16"
    [ "$address" != "$HOST_ADDRESS" ] || die "$HOST_ADDRESS is the bridge's"
    ip link show "$BRIDGE" >/dev/null 2>&1 || die "no bridge: run '$0 up' first"
    ip netns add "$ns"
    ip link add "nxv-$name" type veth peer name "nxp-$name"
    ip link set "nxp-$name" netns "$ns"
    ip link set "nxv-$name" master "$BRIDGE" up
    ip -n "$ns" link set lo up
    ip -n "$ns" link set "nxp-$name" name eth0
    ip -n "$ns" addr add "$address/$PREFIX" dev eth0
    ip -n "$ns" link set eth0 up
}

cut_rules() { # $1 = -A|-D, $2 = namespace name, $3 = peer address
    in_ns "$2" iptables "$1" INPUT -s "$3" -m comment --comment nx-cut -j DROP
    in_ns "$2" iptables "$1" OUTPUT -d "$3" -m comment --comment nx-cut -j DROP
}

cut_link() {
    local a=$1 b=$2 address_a address_b
    address_a=$(address_of "$a"); address_b=$(address_of "$b")
    [ -n "$address_a" ] && [ -n "$address_b" ] || die "unknown namespace in '$a $b'"
    cut_rules -A "$a" "$address_b"
    cut_rules -A "$b" "$address_a"
}

heal_link() {
    local a=$1 b=$2 address_a address_b
    address_a=$(address_of "$a"); address_b=$(address_of "$b")
    while cut_rules -D "$a" "$address_b" 2>/dev/null; do :; done
    while cut_rules -D "$b" "$address_a" 2>/dev/null; do :; done
}

# One direction: a prio qdisc whose third band (unused by ordinary traffic) carries netem, and a filter sending the
# packets for the peer's address into it. Other destinations keep the plain path.
degrade_one() {
    local name=$1 peer_address=$2; shift 2
    in_ns "$name" tc qdisc show dev eth0 | grep -q 'qdisc prio 1:' \
        || in_ns "$name" tc qdisc replace dev eth0 root handle 1: prio
    in_ns "$name" tc qdisc replace dev eth0 parent 1:3 handle 30: netem "$@"
    in_ns "$name" tc filter add dev eth0 parent 1:0 protocol ip prio 1 u32 match ip dst "$peer_address/32" flowid 1:3
}

degrade() {
    local a=$1 b=$2; shift 2
    degrade_one "$a" "$(address_of "$b")" "$@"
    degrade_one "$b" "$(address_of "$a")" "$@"
}

loss_rule() { # $1 = -A|-D, $2 = namespace name, $3 = peer address, $4 = probability (0-1)
    in_ns "$2" iptables "$1" OUTPUT -d "$3" -m statistic --mode random --probability "$4" -m comment --comment nx-loss -j DROP
}

lossy_link() {
    local a=$1 b=$2 percent=$3 probability
    [[ "$percent" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "loss '$percent' is not a percentage"
    probability=$(awk -v p="$percent" 'BEGIN { printf "%.4f", p / 100 }')
    loss_rule -A "$a" "$(address_of "$b")" "$probability"
    loss_rule -A "$b" "$(address_of "$a")" "$probability"
}

# The relay listens on nx-A's loopback; nx-A's connections to B:PORT are DNATed to it, except the relay's own (SO_MARK).
RELAY_MARK=0x6e78
relay_dll() {
    local root configuration
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    for configuration in Release Debug; do
        [ -f "$root/tests/DelayProxy/bin/$configuration/net10.0/NoEtl.DelayProxy.dll" ] \
            && { echo "$root/tests/DelayProxy/bin/$configuration/net10.0/NoEtl.DelayProxy.dll"; return; }
    done
    die "build tests/DelayProxy first (dotnet build tests/DelayProxy -c Release)"
}

delay_link() {
    local a=$1 b=$2 port=$3 ms=$4 address_b relay_port octets dll
    [[ "$port" =~ ^[0-9]{1,5}$ && "$ms" =~ ^[0-9]{1,5}$ ]] || die "usage: delay A B PORT MS"
    address_b=$(address_of "$b")
    [ -n "$address_b" ] && [ -n "$(address_of "$a")" ] || die "unknown namespace in '$a $b'"
    dll=$(relay_dll)
    IFS=. read -r -a octets <<< "$address_b"
    relay_port=$((40000 + (octets[2] % 64) * 256 + octets[3])) # one relay per peer address
    in_ns "$a" setsid dotnet "$dll" "127.0.0.1:$relay_port" "$address_b:$port" "$ms" $((RELAY_MARK)) \
        >"/tmp/nx-delay-$a-$b.log" 2>&1 < /dev/null &
    for _ in $(seq 100); do
        in_ns "$a" bash -c "exec 3<>/dev/tcp/127.0.0.1/$relay_port" 2>/dev/null && break
        sleep 0.1
    done
    in_ns "$a" bash -c "exec 3<>/dev/tcp/127.0.0.1/$relay_port" 2>/dev/null || die "relay in nx-$a did not start: $(cat "/tmp/nx-delay-$a-$b.log")"
    in_ns "$a" iptables -t nat -A OUTPUT -d "$address_b" -p tcp --dport "$port" -m mark ! --mark "$RELAY_MARK" \
        -m comment --comment nx-delay -j DNAT --to-destination "127.0.0.1:$relay_port"
    # Connections opened before keep their direct path (conntrack): reset them (the relay's are marked, new ones are
    # DNATed away from B before the filter table sees them).
    in_ns "$a" iptables -A OUTPUT -d "$address_b" -p tcp --dport "$port" -m mark ! --mark "$RELAY_MARK" \
        -m comment --comment nx-delay -j REJECT --reject-with tcp-reset
}

clear_one() { # $1 = namespace name, $2 = peer address
    local rule
    while rule=$(in_ns "$1" iptables -S OUTPUT | grep -m1 -- "-d $2/32 .*nx-loss"); do
        # shellcheck disable=SC2086 # the rule is a list of iptables arguments
        in_ns "$1" iptables ${rule/-A /-D }
    done
    for table in nat filter; do
        while rule=$(in_ns "$1" iptables -t "$table" -S OUTPUT | grep -m1 -- "-d $2/32 .*nx-delay"); do
            # shellcheck disable=SC2086 # the rule is a list of iptables arguments
            in_ns "$1" iptables -t "$table" ${rule/-A /-D }
        done
    done
    in_ns "$1" tc filter show dev eth0 parent 1:0 2>/dev/null | grep -q . && in_ns "$1" tc qdisc del dev eth0 root 2>/dev/null || true
}

clear_link() {
    clear_one "$1" "$(address_of "$2")"
    clear_one "$2" "$(address_of "$1")"
}

status() {
    ip -br addr show "$BRIDGE" 2>/dev/null || echo "no bridge $BRIDGE"
    for ns in $(rig_namespaces); do
        local name=${ns#nx-}
        echo "$ns $(address_of "$name") pids: $(ip netns pids "$ns" | tr '\n' ' ')"
        { ip netns exec "$ns" iptables -S; ip netns exec "$ns" iptables -t nat -S; } | grep 'nx-cut\|nx-loss\|nx-delay' | sed 's/^/    /' || true
        ip netns exec "$ns" tc qdisc show dev eth0 | grep -v 'pfifo\|noqueue' | sed 's/^/    /' || true
    done
}

command=${1:-status}
shift || true
case "$command" in
    up) up ;;
    down) down ;;
    add) [ $# -eq 2 ] || die "usage: add NAME ADDRESS"; add "$@" ;;
    cut) [ $# -eq 2 ] || die "usage: cut A B"; cut_link "$@" ;;
    heal) [ $# -eq 2 ] || die "usage: heal A B"; heal_link "$@" ;;
    degrade) [ $# -ge 3 ] || die "usage: degrade A B NETEM-ARGS…"; degrade "$@" ;;
    delay) [ $# -eq 4 ] || die "usage: delay A B PORT MS"; delay_link "$@" ;;
    lossy) [ $# -eq 3 ] || die "usage: lossy A B PERCENT"; lossy_link "$@" ;;
    clear) [ $# -eq 2 ] || die "usage: clear A B"; clear_link "$@" ;;
    status) status ;;
    *) die "unknown command '$command' (up|add|cut|heal|lossy|delay|degrade|clear|status|down)" ;;
esac
