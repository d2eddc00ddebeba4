# etcd: the DCS Patroni keeps its leader lock in. Three members, one per node class (db-a, db-b, witness), so
# losing any one machine keeps quorum (2 of 3) and the database can still elect a leader.
#
#   nomad job run deploy/nomad/jobs/etcd.nomad.hcl          (from the repo root)
#
# Client prerequisites (deploy/nomad/README.md): node_class set to db-a / db-b / witness, and a host volume
# "etcd-data" on each of the three machines, owned by the image's etcd user (uid/gid 2379), once per machine:
#   sudo install -d -o 2379 -g 2379 -m 0700 /opt/etcd-data
#
# Image: vietmarket/etcd, built from deploy/etcd/Dockerfile (Debian's etcd-server 3.4, as the local harness runs).

variable "node_addrs" {
  type        = map(string)
  description = "Tailnet address of the machine in each node class (same map in every job of this folder)"
  default = {
    "db-a"    = "100.83.150.39"  # Optiplex
    "db-b"    = "100.103.201.10" # EPYC
    "witness" = "100.100.5.40"   # Mac mini
  }
}

variable "etcd_image" {
  type    = string
  default = "vietmarket/etcd:latest"
}

locals {
  # Member names follow the node class, so a member keeps its name (and its data) across rescheduling.
  initial_cluster = join(",", [for cls, addr in var.node_addrs : "etcd-${cls}=http://${addr}:2380"])
}

job "etcd" {
  datacenters = ["*"]
  type        = "service"

  group "etcd" {
    count = 3

    # One member per node class: each class is exactly one machine (db-a Optiplex, db-b EPYC, witness Mac mini).
    constraint {
      attribute = "${node.class}"
      operator  = "regexp"
      value     = "^(db-a|db-b|witness)$"
    }
    constraint {
      operator  = "distinct_property"
      attribute = "${node.class}"
      value     = "1"
    }

    # Replace one member at a time and wait for it to be healthy: two at once would lose quorum.
    update {
      max_parallel     = 1
      health_check     = "checks"
      min_healthy_time = "20s"
      healthy_deadline = "5m"
    }

    restart {
      attempts = 10
      interval = "30m"
      delay    = "15s"
      mode     = "delay"
    }

    network {
      # Static: peers and Patroni find each member at a fixed address from the node_addrs map.
      port "client" {
        static = 2379
      }
      port "peer" {
        static = 2380
      }
    }

    volume "etcd-data" {
      type      = "host"
      source    = "etcd-data"
      read_only = false
    }

    task "etcd" {
      driver = "docker"

      config {
        image   = var.etcd_image
        command = "/usr/bin/etcd"
        # Published ports rather than host networking: Docker Desktop on the macOS witness has no host mode.
        ports = ["client", "peer"]
      }

      volume_mount {
        volume      = "etcd-data"
        destination = "/etcd-data"
      }

      # etcd reads ETCD_* variables as its flags. The initial-cluster settings only matter on first start;
      # afterwards the member list lives in the data dir (replacing a member: HA_TIMESCALE_RUNBOOK.md).
      template {
        destination = "local/etcd.env"
        env         = true
        change_mode = "restart"
        data        = <<-EOT
          {{- $addr := index (parseJSON `${jsonencode(var.node_addrs)}`) (env "node.class") }}
          ETCD_NAME=etcd-{{ env "node.class" }}
          ETCD_DATA_DIR=/etcd-data
          ETCD_LISTEN_CLIENT_URLS=http://0.0.0.0:2379
          ETCD_ADVERTISE_CLIENT_URLS=http://{{ $addr }}:2379
          ETCD_LISTEN_PEER_URLS=http://0.0.0.0:2380
          ETCD_INITIAL_ADVERTISE_PEER_URLS=http://{{ $addr }}:2380
          ETCD_INITIAL_CLUSTER=${local.initial_cluster}
          ETCD_INITIAL_CLUSTER_STATE=new
          ETCD_INITIAL_CLUSTER_TOKEN=vietmarket-etcd
          ETCD_AUTO_COMPACTION_RETENTION=1
        EOT
      }

      resources {
        cpu    = 200
        memory = 256
      }

      service {
        name     = "etcd"
        provider = "nomad"
        port     = "client"

        check {
          name     = "etcd-health"
          type     = "http"
          path     = "/health"
          interval = "10s"
          timeout  = "3s"
        }
      }
    }
  }
}
