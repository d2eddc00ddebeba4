# TimescaleDB HA: two Patroni-managed PostgreSQL 15 + TimescaleDB members (db-a Optiplex, db-b EPYC).
# Patroni owns PostgreSQL: it runs initdb on the first member, clones the second with pg_basebackup, holds
# the leader lock in etcd, promotes a replica when the leader's lock expires, and rewinds a returning ex-leader.
#
#   nomad job run deploy/nomad/jobs/timescaledb-ha.nomad.hcl          (from the repo root; after etcd)
#
# Image: vietmarket/timescaledb-ha, built from deploy/timescaledb/Dockerfile (`python3 deploy/docker/imagectl.py
# build`): Debian's PostgreSQL 15, TimescaleDB built from Debian's source as the set-up builds it, Patroni and
# pgBackRest. It runs as the `postgres` user, uid/gid 1000, with PGDATA=/home/postgres/pgdata/data; its entrypoint
# execs `patroni <file>` on the file given (below), and tests/containers/test_database_image.py boots this job's
# patroni.yml in it. Push it to the registry the Nomad clients pull from, or `docker load` it on db-a and db-b.
#
# Host volume "timescaledb-data" on db-a and db-b (client config: path /opt/timescaledb-ha). PostgreSQL
# refuses a data directory it does not own or that others can read, so on each node, once:
#   sudo install -d -o 1000 -g 1000 -m 0700 /opt/timescaledb-ha
# ("Permission denied" / "data directory has invalid permissions" in the task log means this was skipped.)
#
# WAL archive: archive_command pushes every completed WAL segment of the leader into the pgBackRest repository
# (host volume "pgbackrest-repo", the SAME shared storage on db-a and db-b, mounted at /var/lib/pgbackrest).
# pgBackRest reads /etc/pgbackrest/pgbackrest.conf, which the database image's entrypoint renders from the one
# template deploy/pgbackrest/pgbackrest.conf.tmpl with the PGBR_* variables below (deploy/common/render.py --from-env); the
# backups themselves are timescaledb-backup.nomad.hcl. HA_TIMESCALE_RUNBOOK.md, "Restore from pgBackRest".
#
# Secrets come from the Nomad variable nomad/jobs/timescaledb-ha (keys superuser_password,
# replication_password, rewind_password, restapi_password; hex, e.g. `openssl rand -hex 24`), never from this file.

variable "node_addrs" {
  type        = map(string)
  description = "Tailnet address of the machine in each node class (same map in every job of this folder)"
  default = {
    "db-a"    = "100.83.150.39"  # Optiplex
    "db-b"    = "100.103.201.10" # EPYC
    "witness" = "100.100.5.40"   # Mac mini
  }
}

variable "tailnet_cidr" {
  type        = string
  description = "Clients admitted by pg_hba: the tailnet (HAProxy, the other member, backups)"
  default     = "100.64.0.0/10"
}

variable "image" {
  type    = string
  default = "vietmarket/timescaledb-ha:latest"
}

variable "bootstrap_method" {
  type        = string
  description = "initdb: a new, empty cluster; pgbackrest: the first member restores the pgBackRest repository (HA_TIMESCALE_RUNBOOK.md, Restore from pgBackRest). Read only while etcd holds no cluster of this scope."
  default     = "initdb"
}

locals {
  etcd_hosts = join(",", [for addr in values(var.node_addrs) : "${addr}:2379"])
}

job "timescaledb-ha" {
  datacenters = ["*"]
  type        = "service"

  group "patroni" {
    count = 2

    # One member per database node class; never two on one machine.
    constraint {
      attribute = "${node.class}"
      operator  = "regexp"
      value     = "^(db-a|db-b)$"
    }
    constraint {
      operator  = "distinct_property"
      attribute = "${node.class}"
      value     = "1"
    }
    constraint {
      attribute = "${attr.kernel.name}"
      value     = "linux"
    }

    # One member at a time: restarting the leader hands the lock to the replica (a switchover), and the next
    # member is touched only after this one is healthy again.
    update {
      max_parallel     = 1
      health_check     = "checks"
      min_healthy_time = "30s"
      healthy_deadline = "10m"
      auto_revert      = false
    }

    restart {
      attempts = 10
      interval = "30m"
      delay    = "15s"
      mode     = "delay"
    }

    network {
      port "pg" {
        static = 5432
      }
      port "rest" {
        static = 8008
      }
    }

    volume "timescaledb-data" {
      type      = "host"
      source    = "timescaledb-data"
      read_only = false
    }

    volume "pgbackrest-repo" {
      type      = "host"
      source    = "pgbackrest-repo"
      read_only = false
    }

    task "patroni" {
      driver = "docker"

      config {
        image = var.image
        # Patroni on the templated file below: the image's entrypoint execs `patroni <file>` unchanged (it
        # renders a config from the environment only for a bare `patroni`). The old deployment ran plain
        # postgres here, so its "HA pair" was two unrelated databases.
        command = "patroni"
        args    = ["/secrets/patroni.yml"]
        # Host networking: the members, HAProxy and pg_hba all see real tailnet addresses, not Docker NAT.
        network_mode = "host"
        shm_size     = 268435456
      }

      volume_mount {
        volume      = "timescaledb-data"
        destination = "/home/postgres/pgdata"
      }

      volume_mount {
        volume      = "pgbackrest-repo"
        destination = "/var/lib/pgbackrest"
      }

      # deploy/pgbackrest/pgbackrest.conf.tmpl's values for this node (timescaledb-backup sets the same ones).
      env {
        PGBR_STANZA        = "vietmarket"
        PGBR_REPO_PATH     = "/var/lib/pgbackrest"
        PGBR_PG_DATA       = "/home/postgres/pgdata/data"
        PGBR_PG_PORT       = "5432"
        PGBR_PG_SOCKET_DIR = "/var/run/postgresql"
        PGBR_LOG_PATH      = "/alloc/logs/pgbackrest"
        PGBR_LOCK_PATH     = "/tmp/pgbackrest"
        PGBR_SPOOL_PATH    = "/home/postgres/pgdata/pgbackrest-spool"
      }

      # Patroni stops PostgreSQL itself (fast shutdown, releasing the leader lock); give it time to.
      kill_signal  = "SIGTERM"
      kill_timeout = "90s"

      template {
        destination = "secrets/patroni.yml"
        # The container runs as postgres (uid 1000); the file holds passwords.
        uid         = 1000
        gid         = 1000
        perms       = "600"
        change_mode = "signal"
        # SIGHUP makes Patroni reload its local configuration; the bootstrap section is only read once.
        change_signal = "SIGHUP"
        data          = <<-EOT
          {{- $addr := index (parseJSON `${jsonencode(var.node_addrs)}`) (env "node.class") }}
          {{- with nomadVar "nomad/jobs/timescaledb-ha" }}
          scope: vietmarket
          namespace: /service/
          name: {{ env "node.unique.name" }}

          restapi:
            listen: 0.0.0.0:8008
            connect_address: {{ $addr }}:8008
            # Unsafe endpoints (switchover, restart, reinit) need these; GET /primary, /replica, /health do not.
            authentication:
              username: patroni
              password: '{{ .restapi_password }}'

          etcd3:
            hosts: ${local.etcd_hosts}

          # No /dev/watchdog inside the container: a hung Patroni cannot be fenced by a hardware timer. Patroni
          # still demotes its own primary when it cannot renew the leader lock.
          watchdog:
            mode: 'off'

          bootstrap:
            # As in the local harness (deploy/ha-local/patroni.yml.tmpl): pgBackRest restores the newest backup,
            # PostgreSQL replays the archived WAL to its end, then promotes itself on a new timeline.
            method: ${var.bootstrap_method}
            pgbackrest:
              command: /bin/sh -c 'mkdir -p -m 700 /home/postgres/pgdata/data && exec pgbackrest --stanza=vietmarket restore'
              keep_existing_recovery_conf: true
              no_params: true
              recovery_conf:
                restore_command: 'pgbackrest --stanza=vietmarket archive-get %f "%p"'
                recovery_target_timeline: latest
                recovery_target_action: promote
            # Cluster-wide settings, written to etcd once by the first member; later changes: patronictl edit-config.
            dcs:
              # Leader lock TTL 30 s, loop 10 s: a dead leader is replaced within ~30-40 s, without flapping on
              # a slow tailnet. loop_wait + 2 * retry_timeout <= ttl, as Patroni requires.
              ttl: 30
              loop_wait: 10
              retry_timeout: 10
              maximum_lag_on_failover: 1048576
              # A commit is acknowledged once the standby has flushed it, and only that standby is promoted:
              # an acknowledged write survives losing the leader (the local harness proves it with the same
              # setting). Not strict: with the standby gone the leader goes on alone. Costs one tailnet round
              # trip per commit; HA_TIMESCALE_RUNBOOK.md, "Synchronous replication".
              synchronous_mode: true
              postgresql:
                use_pg_rewind: true
                use_slots: true
                parameters:
                  shared_preload_libraries: timescaledb
                  timescaledb.telemetry_level: 'off'
                  max_connections: 300
                  shared_buffers: 1GB
                  wal_level: replica
                  hot_standby: 'on'
                  wal_log_hints: 'on'
                  max_wal_senders: 10
                  max_replication_slots: 10
                  wal_keep_size: 1GB
                  password_encryption: scram-sha-256
                  # Only a primary archives, so it is whichever member leads; after a failover the new
                  # leader carries on. archive_timeout bounds what a restore from the archive can lose
                  # (the drill measures it against the harness's 10 s; a quiet cluster switches no segment).
                  archive_mode: 'on'
                  archive_command: 'pgbackrest --stanza=vietmarket archive-push %p'
                  archive_timeout: 60
                  # A second socket on the data volume: the backup job, beside the leader, connects there.
                  unix_socket_directories: '/var/run/postgresql,/home/postgres/pgdata/run'
            initdb:
              - encoding: UTF8
              - data-checksums

          postgresql:
            listen: 0.0.0.0:5432
            connect_address: {{ $addr }}:5432
            data_dir: /home/postgres/pgdata/data
            bin_dir: /usr/lib/postgresql/15/bin
            pgpass: /tmp/pgpass0
            # A returning ex-leader that pg_rewind cannot fix is re-cloned from the new leader.
            remove_data_directory_on_rewind_failure: true
            remove_data_directory_on_diverged_timelines: true
            authentication:
              superuser:
                username: postgres
                password: '{{ .superuser_password }}'
              replication:
                username: replicator
                password: '{{ .replication_password }}'
              rewind:
                username: rewind_user
                password: '{{ .rewind_password }}'
            # Clients reach PostgreSQL through HAProxy, so the source address is an HAProxy node's tailnet IP.
            # Application roles by group: the login roles are created per deployment (runbook, step 4).
            pg_hba:
              - local   all          postgres                                    peer
              - host    all          postgres           127.0.0.1/32             scram-sha-256
              - host    replication  replicator         ${var.tailnet_cidr}      scram-sha-256
              - host    replication  vm_backup          ${var.tailnet_cidr}      scram-sha-256
              - host    postgres     rewind_user        ${var.tailnet_cidr}      scram-sha-256
              - host    all          postgres           ${var.tailnet_cidr}      scram-sha-256
              - host    vietmarket   +vietmarket_writer ${var.tailnet_cidr}      scram-sha-256
              - host    vietmarket   +vietmarket_reader ${var.tailnet_cidr}      scram-sha-256
              - host    dagster      vm_dagster         ${var.tailnet_cidr}      scram-sha-256
          {{- end }}

          tags:
            nofailover: false
            noloadbalance: false
            clonefrom: false
            nosync: false
        EOT
      }

      resources {
        cpu    = 2000
        memory = 4096
      }

      # 200 while PostgreSQL runs, leader or replica. No check_restart: restarting a member because its
      # database is recovering would fight Patroni, which already handles that.
      service {
        name     = "timescaledb-patroni"
        provider = "nomad"
        port     = "rest"

        check {
          name     = "patroni-health"
          type     = "http"
          path     = "/health"
          interval = "10s"
          timeout  = "3s"
        }
      }

      service {
        name     = "timescaledb-pg"
        provider = "nomad"
        port     = "pg"

        check {
          name     = "postgres-tcp"
          type     = "tcp"
          interval = "10s"
          timeout  = "3s"
        }
      }
    }
  }
}
