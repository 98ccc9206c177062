#!/usr/bin/env bash
# Dev PKI for kiseki-node and its tests (never for production):
#   make-certs.sh OUTDIR [--tenant UUID …] [--node ID …]
# Writes into OUTDIR:
#   ca.pem ca.key                         cluster CA (EC P-256)
#   node-<id>.pem node-<id>.key           server+client cert: SAN IP:127.0.0.1, IP:::1, DNS:localhost,
#                                         URI:spiffe://cluster/fabric/<id>
#   tenant-<uuid>.pem tenant-<uuid>.key   client cert: URI:spiffe://cluster/org/<uuid>
#   expired-<uuid>.pem expired-<uuid>.key the first tenant's identity, already expired
#   rogue-ca.pem rogue-ca.key rogue-<uuid>.pem rogue-<uuid>.key   the same tenant from another CA
# Keys are mode 0600. Existing files are overwritten.
set -euo pipefail

usage() { echo "usage: $0 OUTDIR [--tenant UUID …] [--node ID …]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
out=$1; shift
tenants=(); nodes=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --tenant) [[ $# -ge 2 ]] || usage; tenants+=("$2"); shift 2 ;;
    --node) [[ $# -ge 2 ]] || usage; nodes+=("$2"); shift 2 ;;
    *) usage ;;
  esac
done
[[ ${#nodes[@]} -gt 0 ]] || nodes=(1)
[[ ${#tenants[@]} -gt 0 ]] || tenants=(00000000-0000-0000-0000-000000000001)
uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
for t in "${tenants[@]}"; do [[ $t =~ $uuid_re ]] || { echo "tenant '$t' is not a lowercase UUID" >&2; exit 2; }; done
for n in "${nodes[@]}"; do [[ $n =~ ^[A-Za-z0-9._-]+$ ]] || { echo "node id '$n' has characters outside [A-Za-z0-9._-]" >&2; exit 2; }; done

mkdir -p "$out"
umask 077
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

ca() { # name subject
  key "$out/$1.key"
  openssl req -x509 -new -key "$out/$1.key" -sha256 -days 3650 -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$out/$1.pem" 2>/dev/null
}

# leaf NAME CA SUBJECT SAN EKU [expired]
leaf() {
  local name=$1 caname=$2 subj=$3 san=$4 eku=$5 expired=${6:-}
  key "$out/$name.key"
  openssl req -new -key "$out/$name.key" -subj "$subj" -out "$tmp/$name.csr" 2>/dev/null
  cat > "$tmp/$name.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$eku
subjectAltName=$san
EXT
  if [[ -n $expired ]]; then
    # A validity window entirely in the past (needs OpenSSL ≥ 3 for -not_before/-not_after via `ca`;
    # x509 -days cannot go negative, so sign with `openssl ca` in a throwaway database).
    mkdir -p "$tmp/db"; : > "$tmp/db/index"; echo 01 > "$tmp/db/serial"
    cat > "$tmp/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $tmp/db/index
serial = $tmp/db/serial
new_certs_dir = $tmp/db
default_md = sha256
policy = p
copy_extensions = none
unique_subject = no
[p]
commonName = supplied
CNF
    openssl ca -batch -config "$tmp/ca.cnf" -cert "$out/$caname.pem" -keyfile "$out/$caname.key" \
      -startdate 20200101000000Z -enddate 20200102000000Z -extfile "$tmp/$name.ext" \
      -in "$tmp/$name.csr" -out "$out/$name.pem" -notext 2>/dev/null
  else
    openssl x509 -req -in "$tmp/$name.csr" -CA "$out/$caname.pem" -CAkey "$out/$caname.key" -CAcreateserial \
      -CAserial "$tmp/$caname.srl" -days 825 -sha256 -extfile "$tmp/$name.ext" -out "$out/$name.pem" 2>/dev/null
  fi
}

ca ca "/CN=kiseki dev cluster CA"
for n in "${nodes[@]}"; do
  leaf "node-$n" ca "/CN=kiseki-node-$n" "IP:127.0.0.1,IP:::1,DNS:localhost,URI:spiffe://cluster/fabric/$n" "serverAuth,clientAuth"
done
for t in "${tenants[@]}"; do
  leaf "tenant-$t" ca "/CN=tenant-$t/OU=$t" "URI:spiffe://cluster/org/$t" "clientAuth"
done
first=${tenants[0]}
leaf "expired-$first" ca "/CN=expired-$first/OU=$first" "URI:spiffe://cluster/org/$first" "clientAuth" expired
ca rogue-ca "/CN=rogue CA"
leaf "rogue-$first" rogue-ca "/CN=rogue-$first/OU=$first" "URI:spiffe://cluster/org/$first" "clientAuth"
chmod 644 "$out"/*.pem
echo "certificates in $out: ca.pem, node-{${nodes[*]}}, tenant-{${tenants[*]}}, expired-$first, rogue-$first"
