"""Functional tests of the collection's AWS modules (elasticache_replication_group, eks_cluster, eks_kubeconfig)
against moto in server mode."""
