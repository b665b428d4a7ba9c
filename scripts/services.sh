#!/usr/bin/env bash
# The services the scale-out tests need, on this machine: PostgreSQL 15 with PostGIS, NATS
# (JetStream) and Mosquitto. Installs what is missing (Debian packages, as root) and starts
# whatever is down; safe to run again and again (`make setup` and `make test` call it).
#
#   scripts/services.sh            install if missing, start if down, wait until they answer
#   scripts/services.sh --check    only report what is up (exit 1 if something is not)
#
# PostgreSQL listens on 127.0.0.1:5432 with trust auth for local TCP (the Debian default
# for 127.0.0.1 is md5/scram; the tests connect as `postgres` without a password, so a
# fresh cluster gets a trust line for 127.0.0.1 - a development and CI machine only).
set -euo pipefail

PACKAGES=(postgresql-15 postgresql-15-postgis-3 nats-server mosquitto)
PG_HOST=127.0.0.1
PG_PORT=5432

log() { printf 'services: %s\n' "$*" >&2; }

port_open() {  # host port
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() {  # name host port
    local i
    for i in $(seq 1 60); do
        if port_open "$2" "$3"; then
            return 0
        fi
        sleep 0.5
    done
    log "$1 did not start listening on $2:$3"
    return 1
}

check() {
    local status=0
    if port_open "$PG_HOST" "$PG_PORT"; then log "PostgreSQL up"; else log "PostgreSQL DOWN"; status=1; fi
    if port_open 127.0.0.1 4222; then log "NATS up"; else log "NATS DOWN"; status=1; fi
    if port_open 127.0.0.1 1883; then log "Mosquitto up"; else log "Mosquitto DOWN"; status=1; fi
    return "$status"
}

install_missing() {
    local missing=() package
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$package")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        log "missing packages ${missing[*]}: install them as root (apt-get install ${missing[*]})"
        return 1
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
        apt-get update -q >/dev/null
        apt-get install -y -q "${missing[@]}" >/dev/null
    }
}

start_postgres() {
    if port_open "$PG_HOST" "$PG_PORT"; then
        return 0
    fi
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    if [ -w "$hba" ] && ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
        log "trusting local TCP connections in $hba (development/CI machine)"
        sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    fi
    log "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for PostgreSQL "$PG_HOST" "$PG_PORT"
}

start_nats() {
    if port_open 127.0.0.1 4222; then
        return 0
    fi
    log "starting NATS with JetStream"
    mkdir -p /var/lib/nats-server
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
        -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    wait_for NATS 127.0.0.1 4222
}

start_mosquitto() {
    if port_open 127.0.0.1 1883; then
        return 0
    fi
    log "starting Mosquitto"
    mkdir -p /run/mosquitto && chown mosquitto: /run/mosquitto 2>/dev/null || true
    mosquitto -d -c /etc/mosquitto/mosquitto.conf
    wait_for Mosquitto 127.0.0.1 1883
}

if [ "${1:-}" = "--check" ]; then
    check
    exit $?
fi

install_missing
start_postgres
start_nats
start_mosquitto
