# pg-haproxy: the stable database endpoints, one HAProxy on every Linux client (a system job), so each
# consumer connects to the HAProxy on its own node:
#   :5433  the Patroni leader only   (option httpchk GET /primary on Patroni's REST port 8008)
#   :5434  the streaming replicas     (option httpchk GET /replica), for the read-only History API
#   :7000  stats (/stats) and HAProxy liveness (/healthz)
#
#   nomad job run deploy/nomad/jobs/pg-haproxy.nomad.hcl          (from the repo root: file() below is
#                                                                  read by the CLI, relative to the cwd)
#
# The routing is deploy/haproxy/haproxy.cfg.tmpl, shipped verbatim: the same file the local HA harness
# renders with deploy/common/render.py. Its placeholders are the task env below; HAProxy expands them
# while parsing. Both Patroni members are always listed (from node_addrs, not from service discovery): a
# member that is down stays in the config as DOWN, instead of a config rewrite and an HAProxy restart in the
# middle of a failover.

variable "node_addrs" {
  type        = map(string)
  description = "Tailnet address of the machine in each node class (same map in every job of this folder)"
  default = {
    "db-a"    = "100.83.150.39"  # Optiplex
    "db-b"    = "100.103.201.10" # EPYC
    "witness" = "100.100.5.40"   # Mac mini
  }
}

variable "image" {
  type = string
  # deploy/haproxy/Dockerfile: Debian 12's haproxy 2.6, the same HAProxy the local harness runs.
  default = "vietmarket/haproxy:latest"
}

job "pg-haproxy" {
  datacenters = ["*"]
  type        = "system"

  group "haproxy" {
    constraint {
      attribute = "${attr.kernel.name}"
      value     = "linux"
    }

    update {
      max_parallel     = 1
      health_check     = "checks"
      min_healthy_time = "10s"
      healthy_deadline = "3m"
    }

    restart {
      attempts = 20
      interval = "10m"
      delay    = "5s"
      mode     = "delay"
    }

    network {
      port "leader" {
        static = 5433
      }
      port "replicas" {
        static = 5434
      }
      port "stats" {
        static = 7000
      }
    }

    task "haproxy" {
      driver = "docker"

      config {
        image = var.image
        # The image's entrypoint adds -W -db (master-worker, foreground), so SIGUSR2 is a hitless reload.
        command = "haproxy"
        args    = ["-f", "/local/haproxy.cfg"]
        # Host networking: binds the node's own address and health-checks the members from it.
        network_mode = "host"
      }

      env {
        BIND_ADDR      = "${attr.unique.network.ip-address}"
        LEADER_PORT    = "5433"
        REPLICA_PORT   = "5434"
        STATS_PORT     = "7000"
        PG_NODE_1_ADDR = var.node_addrs["db-a"]
        PG_NODE_1_PORT = "5432"
        PG_NODE_1_REST = "8008"
        PG_NODE_2_ADDR = var.node_addrs["db-b"]
        PG_NODE_2_PORT = "5432"
        PG_NODE_2_REST = "8008"
      }

      template {
        # Read by the nomad CLI at submission: the one routing template, byte for byte.
        data          = file("deploy/haproxy/haproxy.cfg.tmpl")
        destination   = "local/haproxy.cfg"
        change_mode   = "signal"
        change_signal = "SIGUSR2"
      }

      resources {
        cpu    = 200
        memory = 128
      }

      service {
        name     = "pg-haproxy-leader"
        provider = "nomad"
        port     = "leader"

        check {
          name     = "haproxy-liveness"
          type     = "http"
          port     = "stats"
          path     = "/healthz"
          interval = "10s"
          timeout  = "2s"
        }
      }

      service {
        name     = "pg-haproxy-replicas"
        provider = "nomad"
        port     = "replicas"

        check {
          name     = "haproxy-replicas-listener"
          type     = "tcp"
          interval = "10s"
          timeout  = "2s"
        }
      }

      service {
        name     = "pg-haproxy-stats"
        provider = "nomad"
        port     = "stats"

        check {
          name     = "haproxy-stats"
          type     = "http"
          path     = "/healthz"
          interval = "10s"
          timeout  = "2s"
        }
      }
    }
  }
}
