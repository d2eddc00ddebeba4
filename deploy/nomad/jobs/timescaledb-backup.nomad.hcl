# Nightly physical backup of the whole Patroni cluster (the vietmarket AND dagster databases) with
# pg_basebackup, verified with pg_verifybackup, keeping the newest `keep` copies.
#
#   nomad job run deploy/nomad/jobs/timescaledb-backup.nomad.hcl    (from the repo root)
#   nomad job periodic force timescaledb-backup                     (one now)
#
# What this is not: no WAL archive, so no point-in-time recovery (a restore goes back to the last nightly
# copy), and no off-site copy (the host volume sits on one machine). HA_TIMESCALE_RUNBOOK.md, "Backups".
# Secrets: Nomad variable nomad/jobs/timescaledb-backup (backup_password of the REPLICATION role vm_backup).

variable "image" {
  type = string
  # Same image as the cluster, so pg_basebackup matches the server's major version.
  default = "vietmarket/timescaledb-ha:latest"
}

variable "keep" {
  type    = number
  default = 3
}

job "timescaledb-backup" {
  datacenters = ["*"]
  type        = "batch"

  periodic {
    crons            = ["30 1 * * *"]
    time_zone        = "Asia/Ho_Chi_Minh"
    prohibit_overlap = true
  }

  group "backup" {
    # Placed where the host volume exists (client config: host_volume "pg-backups", owned by uid 1000).
    constraint {
      attribute = "${attr.kernel.name}"
      value     = "linux"
    }

    # A failed night retries twice, an hour apart, then waits for the next night (and shows as failed).
    restart {
      attempts = 0
      mode     = "fail"
    }
    reschedule {
      attempts       = 2
      interval       = "6h"
      delay          = "1h"
      delay_function = "constant"
      unlimited      = false
    }

    volume "pg-backups" {
      type      = "host"
      source    = "pg-backups"
      read_only = false
    }

    task "pg-basebackup" {
      driver = "docker"

      config {
        image   = var.image
        command = "/bin/bash"
        args    = ["/local/backup.sh"]
        # Host networking: reaches the HAProxy on this node like every other client.
        network_mode = "host"
      }

      volume_mount {
        volume      = "pg-backups"
        destination = "/backups"
      }

      env {
        KEEP = "${var.keep}"
      }

      template {
        destination = "secrets/pgpass"
        uid         = 1000
        gid         = 1000
        perms       = "600"
        data        = <<-EOT
          {{- with nomadVar "nomad/jobs/timescaledb-backup" }}
          *:*:*:vm_backup:{{ .backup_password }}
          {{- end }}
        EOT
      }

      template {
        destination = "local/backup.sh"
        perms       = "755"
        data        = <<-EOT
          #!/bin/bash
          # Replica port first, so the leader is spared the read load; the leader port if no replica is up.
          set -euo pipefail
          export PGPASSFILE=/secrets/pgpass
          host={{ env "attr.unique.network.ip-address" }}
          stamp=$(date -u +%Y%m%dT%H%M%SZ)
          done_dir=
          for port in 5434 5433; do
            dir=/backups/$stamp-$port
            if /usr/lib/postgresql/15/bin/pg_basebackup -h "$host" -p "$port" -U vm_backup -D "$dir.partial" \
                 -Fp -X stream --checkpoint=spread --max-rate=64M --no-password; then
              /usr/lib/postgresql/15/bin/pg_verifybackup "$dir.partial"
              mv "$dir.partial" "$dir"
              done_dir=$dir
              break
            fi
            echo "pg_basebackup through :$port failed" >&2
            rm -rf "$dir.partial"
          done
          [ -n "$done_dir" ] || { echo "no backup taken" >&2; exit 1; }
          echo "backup complete: $done_dir ($(du -sh "$done_dir" | cut -f1))"
          # Newest $KEEP complete backups stay; names sort by time.
          ls -1d /backups/20*Z-543[34] | head -n -"$KEEP" | xargs -r rm -rf
        EOT
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
