# Read access to the one Nomad variable the three Dagster jobs share (vietmarket/dagster). A job reads
# nomad/jobs/<its own id> without any policy; a shared path needs this, attached to each job:
#   nomad acl policy apply -namespace default -job dagster-code      dagster-code-vars      deploy/nomad/policies/dagster-vars.policy.hcl
#   nomad acl policy apply -namespace default -job dagster-daemon    dagster-daemon-vars    deploy/nomad/policies/dagster-vars.policy.hcl
#   nomad acl policy apply -namespace default -job dagster-webserver dagster-webserver-vars deploy/nomad/policies/dagster-vars.policy.hcl
namespace "default" {
  variables {
    path "vietmarket/dagster" {
      capabilities = ["read"]
    }
  }
}
