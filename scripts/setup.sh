#!/usr/bin/env bash
# Installs everything twinflow's tests and benchmarks use, then the npm dependencies.
# Idempotent: Debian packages already present are not fetched again. Needs root (or sudo)
# for apt-get; the network tests also need root for `ip netns`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian package → a command it provides (used to skip what is already installed).
declare -A PACKAGES=(
  [tshark]=tshark          # decodes every replica we emit (tests)
  [tcpdump]=tcpdump        # filter-compiler oracle (tests), replay peer (bench)
  [python3-scapy]=/usr/lib/python3/dist-packages/scapy  # independent packet builder (tests)
  [squid]=squid            # a real WCCPv2 cache (tests)
  [dpdk-dev]=dpdk-test-acl # DPDK ACL, the classification peer (bench)
  [iproute2]=ip            # network namespaces and veth (e2e tests)
  [curl]=curl              # HTTP client in e2e tests
  [iputils-ping]=ping      # real pings through the linux driver (tests)
  [ethtool]=ethtool        # turns veth offloads off so AF_PACKET sees real frames (tests)
  [openssl]=openssl        # s_client: independent TLS-PSK peer of the management port (tests)
  [python3-msgpack]=/usr/lib/python3/dist-packages/msgpack  # independent MessagePack codec (tests)
  [python3-prometheus-client]=/usr/lib/python3/dist-packages/prometheus_client  # independent Prometheus text parser (tests)
)

missing=()
for pkg in "${!PACKAGES[@]}"; do
  probe=${PACKAGES[$pkg]}
  if [[ $probe == /* ]]; then [[ -e $probe ]] || missing+=("$pkg")
  else command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg"); fi
done

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages present"
fi

# npm install, not npm ci: the registry this project installs from lacks msgpackr's optional
# native accelerators for other platforms (darwin, win32), so npm leaves them out of the lock
# file and then `npm ci` refuses that lock as out of sync. npm install follows the lock for
# everything it lists.
echo "setup: npm install"
npm install --no-audit --no-fund
