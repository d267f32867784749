#!/bin/sh
# PID 1 of every knockc lab container (copied in by lab.ts).
#   LAB_TCP_PORTS="22 2222"  TCP ports to listen on, IPv4 and IPv6 (server only)
#   LAB_UDP_PORTS="5000"     UDP ports that answer every datagram with a line
# Prints "knockc-lab ready" once the listeners are bound and the IPv6 global
# address is usable, then idles. Exits at once on SIGTERM (no 10 s stop delay).
trap 'exit 0' TERM INT

# Nothing may leave the lab: drop default routes (Docker 20.10 adds an IPv6 one
# even on --internal networks, and the host forwards IPv6). Needs NET_ADMIN.
ip -4 route del default 2>/dev/null
ip -6 route del default 2>/dev/null
if [ -n "$(ip -4 route show default; ip -6 route show default)" ]; then
  echo "knockc-lab: cannot remove the default routes (NET_ADMIN missing?)" >&2
  exit 1
fi

for p in ${LAB_TCP_PORTS:-}; do
  socat -lf /dev/null "TCP4-LISTEN:$p,fork,reuseaddr" "EXEC:echo knockc-lab" &
  socat -lf /dev/null "TCP6-LISTEN:$p,fork,reuseaddr,ipv6only=1" "EXEC:echo knockc-lab" &
done
for p in ${LAB_UDP_PORTS:-}; do
  socat -lf /dev/null "UDP4-RECVFROM:$p,fork,reuseaddr" "EXEC:echo knockc-lab" &
  socat -lf /dev/null "UDP6-RECVFROM:$p,fork,reuseaddr,ipv6only=1" "EXEC:echo knockc-lab" &
done

ready() {
  for p in ${LAB_TCP_PORTS:-}; do
    ss -Hltn "sport = :$p" | grep -q '0\.0\.0\.0' || return 1
    ss -Hltn "sport = :$p" | grep -q '\[::\]' || return 1
  done
  for p in ${LAB_UDP_PORTS:-}; do
    [ "$(ss -Hlun "sport = :$p" | wc -l)" -ge 2 ] || return 1
  done
  # A tentative (DAD in progress) global IPv6 address cannot be used yet.
  [ -z "$(ip -6 addr show scope global tentative 2>/dev/null)" ] || return 1
  return 0
}

i=0
until ready; do
  i=$((i + 1))
  if [ "$i" -gt 200 ]; then echo "knockc-lab: listeners did not come up" >&2; exit 1; fi
  sleep 0.05
done
echo "knockc-lab ready"

while :; do
  sleep 3600 &
  wait $!
done
