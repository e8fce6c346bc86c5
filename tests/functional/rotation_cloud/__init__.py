"""Cloud parts of credential rotation (plugins/module_utils/rotation_cloud.py) against moto and a real Redis."""
