#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: nl2api-deploy maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = r"""
---
module: credential_rotation
short_description: Rotate one credential end to end (database, cache, consumers, rollouts), resumably
version_added: 0.1.0
author:
  - nl2api-deploy maintainers (@nl2api)
description:
  - Rotates one credential with zero downtime, in steps C(create_pending), C(set_secret), C(test_secret),
    C(promote), C(update_consumers), C(refresh_consumers), C(revoke), after which the credential is C(idle) again.
  - "The old and the new secret are both valid from C(set_secret) until C(revoke): consumers are updated and
    their readers restarted (O(rollouts)) or refreshed (O(keda_refresh)) before the old secret stops working."
  - "O(engine=postgres): two login roles, both members of one NOLOGIN group role that holds the privileges, are used
    in turn. The new password goes to the role not in use, as a SCRAM-SHA-256 verifier computed by the module (the
    plaintext never reaches the server or its logs); revoking the old role is C(ALTER ROLE .. NOLOGIN PASSWORD NULL),
    so running sessions continue and new logins fail."
  - "O(engine=redis_acl): one ACL user gets a second password (C(ACL SETUSER user on #sha256)), and C(revoke) leaves
    only the new one (C(ACL SETUSER user resetpass #sha256)). The ACL is saved with C(ACL SAVE) when the server has
    an aclfile (O(redis.persist))."
  - "O(engine=elasticache): the AUTH token of a replication group is rotated with C(AuthTokenUpdateStrategy=ROTATE)
    then C(SET)."
  - "O(engine=azure_redis): the primary and secondary access keys of an Azure Cache for Redis are used in turn; the
    new key is made by Azure (C(regenerateKey)), the password options do not apply."
  - The state of each credential is kept in C(<state_dir>/<credential>.json) (directory mode 0700, file mode 0600,
    replaced atomically) and saved after every step. A run that is interrupted at any point (crash, kill, lost
    connection) is resumed from the recorded step by the next run, whatever O(max_age) says. The pending secret is
    kept in this file only while a rotation is in flight.
  - Nothing happens while the credential was rotated less than O(max_age) ago, unless O(force=true).
  - Secrets are never returned or logged; statements are returned with secrets masked as C(********).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details:
      - Writes no state and no consumer. PostgreSQL statements run in a transaction that is rolled back (which proves
        the privileges); Redis is only read (C(ACL GETUSER), C(ACL DRYRUN)); cloud backends only describe.
      - Reports V(changed=true) when a rotation is due or in flight.
  diff_mode:
    support: full
    details: The diff shows the public state (username or key slot, rotated_at, step), never a secret.
  platform:
    platforms: posix
options:
  credential:
    description:
      - Name of the credential, for example V(postgres-app), V(redis-app) or V(redis-keda); also the name of its state
        file. Letters, digits, C(.), C(_) and C(-), starting with a letter or digit.
    type: str
    required: true
  engine:
    description:
      - Where the credential is checked. Each engine takes the option of the same name (O(postgres) for
        V(postgres), O(redis) for V(redis_acl), O(elasticache), O(azure_redis)); the others must not be set.
    type: str
    required: true
    choices: [postgres, redis_acl, elasticache, azure_redis]
  state_dir:
    description:
      - Directory of the state files, created with mode 0700 when missing. Keep it on persistent storage that only
        the automation account can read; back it up like a secret store.
    type: path
    required: true
  max_age:
    description:
      - Rotate when the credential was rotated longer ago than this, as V(90d), V(12h), V(30m), V(3600s), V(2w) or a
        number of seconds. A credential without a state file is always rotated.
    type: str
    default: 30d
  revoke_delay:
    description:
      - How long the old credential stays valid after the consumers were updated and refreshed, as V(90s), V(2m)
        or a number of seconds. Give readers that fetch the credential themselves time to see the new one; pods
        that read a mounted Secret without being rolled see a change only after the kubelet's sync (up to about
        a minute and a half); rolled pods and KEDA read it at once.
      - The deadline is recorded in the state file, so a run resumed at the revoke step still waits for it.
    type: str
    default: "0s"
  force:
    description:
      - Rotate now, whatever O(max_age) says.
    type: bool
    default: false
  validate_only:
    description:
      - Only check the options, all of them (engine options, durations, password settings, every consumer's type
        options, O(consumers[].keys) and O(consumers[].url_keys) templates, O(rollouts), O(keda_refresh)), and
        report every problem in one failure. Nothing is connected to, read or written; no library beyond
        Ansible's is needed.
      - The rotation role runs the same checks on the controller for every selected credential before it rotates
        any (filter P(nl2api.deploy.rotation_problems#filter)).
    type: bool
    default: false
  password_length:
    description:
      - Length of generated passwords. At least 16.
    type: int
    default: 40
  password_alphabet:
    description:
      - Characters generated passwords are drawn from (with Python's C(secrets.choice)).
      - The default is the ASCII letters and digits.
      - V(engine=postgres) allows printable ASCII only. ElastiCache AUTH tokens allow printable ASCII except C(/),
        C("), C(@) and space, 16 to 128 characters.
    type: str
    default: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789
  password_symbols:
    description:
      - More characters appended to O(password_alphabet), for example V(-_.~).
    type: str
    default: ""
  postgres:
    description:
      - PostgreSQL connection and roles, for O(engine=postgres).
    type: dict
    suboptions:
      host:
        description:
          - Host name, IP address or socket directory of the server. When not set, libpq's default.
        type: str
      port:
        description:
          - Port of the server.
        type: int
        default: 5432
      admin_user:
        description:
          - Role the module connects as to change the login roles (a superuser, or a role with C(CREATEROLE) and
            C(ADMIN OPTION) on the roles).
        type: str
      admin_password:
        description:
          - Password of O(postgres.admin_user). Never logged or returned.
        type: str
      database:
        description:
          - Database to connect to; also where ownership of objects by the group and login roles is checked.
        type: str
        default: postgres
      sslmode:
        description:
          - libpq C(sslmode) of the admin connection and of the test login.
        type: str
        default: verify-full
        choices: [disable, allow, prefer, require, verify-ca, verify-full]
      ca_file:
        description:
          - PEM file of the certificate authorities that signed the server certificate (libpq C(sslrootcert)).
        type: path
      connect_timeout:
        description:
          - Seconds to wait for a connection.
        type: int
        default: 10
      group_role:
        description:
          - The NOLOGIN role that holds the privileges, for example V(nl2api_app). Created when missing. It must not be
            able to log in and must own nothing.
        type: str
        required: true
      login_roles:
        description:
          - Exactly two login roles, used in turn, for example V([nl2api_app_a, nl2api_app_b]). Created when missing
            and made members of O(postgres.group_role). They must not be superusers and must own nothing.
        type: list
        elements: str
        required: true
      owner_role:
        description:
          - The role that owns the application's objects, when there is one; checked to exist and to be neither a
            login role nor the group role.
        type: str
  redis:
    description:
      - Redis admin connection and the ACL user to rotate, for O(engine=redis_acl).
      - The connection options are those of the collection's other Redis modules.
    type: dict
    suboptions:
      acl_user:
        description:
          - The ACL user whose password is rotated. It must exist (with its permissions) before the first rotation.
        type: str
        required: true
      persist:
        description:
          - How the changed ACL is made durable. V(auto) runs C(ACL SAVE) when the server has an aclfile
            (C(CONFIG GET aclfile)) and nothing otherwise; V(aclfile) always runs C(ACL SAVE); V(config_rewrite) runs
            C(CONFIG REWRITE) (users kept in redis.conf); V(none) does nothing.
        type: str
        default: auto
        choices: [auto, aclfile, config_rewrite, none]
      login_host:
        description:
          - Host name or IP address of the Redis server. C(localhost) when not set.
        type: str
        aliases: [redis_host]
      login_port:
        description:
          - TCP port of the Redis server (the TLS port when O(redis.tls=true)). C(6379) when not set.
        type: int
        aliases: [redis_port]
      login_user:
        description:
          - Admin ACL user the module connects as; it needs C(ACL) (and C(CONFIG GET) for O(redis.persist=auto)).
        type: str
        aliases: [redis_user]
      login_password:
        description:
          - Password of O(redis.login_user). Never logged or returned.
        type: str
        aliases: [redis_password]
      login_db:
        description:
          - Database number to C(SELECT) after connecting.
        type: int
      tls:
        description:
          - Connect with TLS.
        type: bool
      validate_certs:
        description:
          - With TLS, verify the server certificate and that it matches O(redis.login_host).
        type: bool
        default: true
        aliases: [tls_verify]
      ca_file:
        description:
          - PEM file of the certificate authorities to verify the server certificate with. Only with TLS.
        type: path
        aliases: [ca_certs]
      client_cert_file:
        description:
          - PEM client certificate for mutual TLS. Requires O(redis.client_key_file).
        type: path
      client_key_file:
        description:
          - PEM private key of O(redis.client_cert_file).
        type: path
      connect_timeout:
        description:
          - Seconds to wait for the connection and for each reply.
        type: float
        default: 5.0
  elasticache:
    description:
      - The ElastiCache replication group whose AUTH token is rotated, for O(engine=elasticache).
      - The AWS connection options (O(elasticache.region), O(elasticache.endpoint_url), O(elasticache.profile),
        O(elasticache.access_key), O(elasticache.secret_key), O(elasticache.session_token)) are those of the
        collection's AWS modules (M(nl2api.deploy.eks_cluster) ...), amazon.aws's aliases included, without their
        C(validate_certs); O(elasticache.validate_certs) is the test connection's.
    type: dict
    suboptions:
      replication_group_id:
        description:
          - The replication group.
        type: str
        required: true
      region: &aws_region
        description:
          - The AWS region, for example C(eu-west-1). When not set, boto3's own (E(AWS_REGION), then
            E(AWS_DEFAULT_REGION), then the profile's region).
        type: str
        aliases: [aws_region, ec2_region]
      endpoint_url: &aws_endpoint_url
        description:
          - URL of the service endpoint to use instead of AWS's, for example a moto server in tests. When not set,
            boto3's own E(AWS_ENDPOINT_URL) (and E(AWS_ENDPOINT_URL_<SERVICE>)) apply.
        type: str
        aliases: [aws_endpoint_url, ec2_url]
      profile: &aws_profile
        description:
          - Named profile of the AWS shared configuration and credentials files. Mutually exclusive with
            C(access_key) and C(session_token).
        type: str
        aliases: [aws_profile]
      access_key: &aws_access_key
        description:
          - AWS access key ID. When not set, boto3 finds credentials itself (E(AWS_ACCESS_KEY_ID), profile, instance
            or web identity role). Requires C(secret_key).
        type: str
        aliases: [aws_access_key_id, aws_access_key]
      secret_key: &aws_secret_key
        description:
          - AWS secret access key of C(access_key). Never logged or returned.
        type: str
        aliases: [aws_secret_access_key, aws_secret_key]
      session_token: &aws_session_token
        description:
          - AWS session token for temporary credentials; requires C(access_key) and C(secret_key). Never logged or
            returned.
        type: str
        aliases: [aws_session_token, security_token]
      wait_timeout:
        description:
          - Seconds to wait for the replication group to be C(available) after each change.
        type: int
        default: 1800
      host:
        description:
          - Endpoint that C(test_secret) connects to with the new token (the primary endpoint).
        type: str
        required: true
      port:
        description:
          - Port of O(elasticache.host).
        type: int
        default: 6379
      tls: &test_tls
        description:
          - Make the test connection with TLS (ElastiCache accepts AUTH tokens only with in-transit encryption).
        type: bool
        default: true
      ca_file: &test_ca_file
        description:
          - PEM file of the certificate authorities for the test connection.
        type: path
      validate_certs: &test_validate_certs
        description:
          - Verify the certificate of the host of the test connection. This is the Redis connection's, not the AWS
            API's, whose certificate is always verified.
        type: bool
        default: true
      connect_timeout: &test_connect_timeout
        description:
          - Seconds to wait for the test connection.
        type: float
        default: 5.0
  azure_redis:
    description:
      - The Azure Cache for Redis whose access keys are rotated, for O(engine=azure_redis).
    type: dict
    suboptions:
      subscription_id:
        description:
          - Azure subscription ID.
        type: str
        required: true
      resource_group:
        description:
          - Resource group of the cache.
        type: str
        required: true
      name:
        description:
          - Name of the cache.
        type: str
        required: true
      api_version:
        description:
          - API version of Microsoft.Cache/redis.
        type: str
        default: "2024-11-01"
      token:
        description:
          - Bearer token for Azure Resource Manager. Default from the environment variable C(AZURE_ACCESS_TOKEN).
            Never logged or returned.
        type: str
      arm_endpoint:
        description:
          - Azure Resource Manager endpoint.
        type: str
        default: https://management.azure.com
      host:
        description:
          - Host C(test_secret) connects to. Default C(<name>.redis.cache.windows.net).
        type: str
      port:
        description:
          - Port of O(azure_redis.host).
        type: int
        default: 6380
      tls: *test_tls
      ca_file: *test_ca_file
      validate_certs: *test_validate_certs
      connect_timeout: *test_connect_timeout
  consumers:
    description:
      - Where the credential is delivered, at least one. The first one is the primary consumer; when there is no
        state file yet, the module reads it to learn the credential in use.
      - Each consumer writes only its outputs, O(consumers[].keys) and O(consumers[].url_keys) (at least one of them,
        no output key in both); other keys of the same target are kept.
      - "O(consumers[].type=aws_secretsmanager) takes the AWS connection options of O(elasticache):
        O(consumers[].region), O(consumers[].endpoint_url), O(consumers[].profile), O(consumers[].access_key),
        O(consumers[].secret_key), O(consumers[].session_token)."
    type: list
    elements: dict
    required: true
    suboptions:
      type:
        description:
          - "V(file): a directory laid out as a mounted Kubernetes Secret volume (C(..data) symlink to a timestamped
            directory, one C(<key> -> ..data/<key>) symlink per key); the switch to the new values is one atomic
            rename, files are mode 0600."
          - "V(kubernetes_secret): a Secret, merge-patched."
          - "V(aws_secretsmanager): a JSON C(SecretString), merged."
          - "V(azure_keyvault): one Key Vault secret per key."
        type: str
        required: true
        choices: [file, kubernetes_secret, aws_secretsmanager, azure_keyvault]
      keys:
        description:
          - "Output key to credential field (V(username) or V(password)), the raw value, for example
            C({redis-username: username, redis-password: password})."
          - Key Vault secret names allow only letters, digits and C(-).
        type: dict
      url_keys:
        description:
          - "Output key to a connection URL template, filled with the new credential, for example
            C({redis-url: 'rediss://{username}:{password}@redis.internal:6379/0?ssl_cert_reqs=required'})."
          - "The only placeholders are C({username}) and C({password}); C({password}) is required. Both are
            percent-encoded (Python's C(urllib.parse.quote(value, safe=\"\"))), so any character of a password is
            safe in the URL; libpq, asyncpg and redis-py decode them."
          - The template must start with a scheme (C(postgresql://), C(rediss://)) and put the placeholders in the
            user info, before the host. Write a literal brace as C({{) or C(}}).
          - The primary consumer's credential in use is read back from O(consumers[].keys), else from the user
            info of the first of these URLs.
          - The URLs carry the password; they are never returned or logged.
        type: dict
      path:
        description:
          - Directory, for O(consumers[].type=file).
        type: path
      name:
        description:
          - Secret name, for O(consumers[].type=kubernetes_secret).
        type: str
      namespace:
        description:
          - Secret namespace, for O(consumers[].type=kubernetes_secret).
        type: str
      kubeconfig:
        description:
          - Kubeconfig file, for O(consumers[].type=kubernetes_secret). Default the in-cluster or standard
            configuration.
        type: path
      context:
        description:
          - Kubeconfig context, for O(consumers[].type=kubernetes_secret).
        type: str
      secret_id:
        description:
          - Name or ARN of the secret, for O(consumers[].type=aws_secretsmanager).
        type: str
      region: *aws_region
      endpoint_url: *aws_endpoint_url
      profile: *aws_profile
      access_key: *aws_access_key
      secret_key: *aws_secret_key
      session_token: *aws_session_token
      create:
        description:
          - Create the secret when it does not exist, for O(consumers[].type=aws_secretsmanager).
        type: bool
        default: false
      vault_url:
        description:
          - Vault URL such as V(https://myvault.vault.azure.net), for O(consumers[].type=azure_keyvault).
        type: str
      token:
        description:
          - Bearer token for Key Vault, for O(consumers[].type=azure_keyvault). Never logged or returned.
        type: str
  rollouts:
    description:
      - Deployments to roll after the consumers are updated, so their pods read the new credential. The pod template
        gets the annotation C(nl2api.io/credential-revision) and the module waits until the rollout is complete.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - Deployment name.
        type: str
        required: true
      namespace:
        description:
          - Deployment namespace.
        type: str
        required: true
      kubeconfig: &kubeconfig
        description:
          - Kubeconfig file. Default the in-cluster or standard configuration.
        type: path
      context: &context
        description:
          - Kubeconfig context.
        type: str
      timeout:
        description:
          - Seconds to wait for the rollout to complete.
        type: int
        default: 600
  keda_refresh:
    description:
      - KEDA objects to refresh after the consumers are updated, because KEDA caches credentials. Each gets the
        annotation C(nl2api.io/credential-revision).
    type: list
    elements: dict
    default: []
    suboptions:
      kind:
        description:
          - Kind of the object.
        type: str
        required: true
        choices: [ScaledObject, TriggerAuthentication, ClusterTriggerAuthentication]
      name:
        description:
          - Object name.
        type: str
        required: true
      namespace:
        description:
          - Object namespace (not for V(ClusterTriggerAuthentication)).
        type: str
      kubeconfig: *kubeconfig
      context: *context
notes:
  - "Test hook: when the environment variable C(NL2API_ROTATION_FAULT) is C(<step>:<before|after>), for example
    C(revoke:before), the module kills itself with SIGKILL right before or after that step, once the state of the
    steps done is saved. Tests use it to prove that every step resumes; never set it elsewhere."
  - Runs for the same credential are serialised with a lock on C(<state_dir>/<credential>.lock); a run that finds
    it held fails at once and changes nothing. The lock goes with the process, even when it is killed.
  - A failed C(test_secret) sets the state back to C(set_secret), so the next run sets the pending secret again and
    tests it again.
  - The revision written to rollouts and KEDA objects is C(<credential>-<UTC time of promote>), never derived from
    the secret.
requirements:
  - psycopg >= 3 for O(engine=postgres)
  - redis (redis-py) >= 4.1 for O(engine=redis_acl), O(engine=elasticache) and O(engine=azure_redis)
  - boto3 for O(engine=elasticache) and the V(aws_secretsmanager) consumer
  - kubernetes for the V(kubernetes_secret) consumer, O(rollouts) and O(keda_refresh)
seealso:
  - name: PostgreSQL SCRAM-SHA-256 password storage
    description: The verifier format the module computes.
    link: https://www.postgresql.org/docs/current/catalog-pg-authid.html
  - name: Redis ACL SETUSER
    description: Hashed passwords (C(#<sha256>)) and C(resetpass).
    link: https://redis.io/docs/latest/commands/acl-setuser/
"""

EXAMPLES = r"""
- name: Rotate the application's PostgreSQL login every 30 days
  nl2api.deploy.credential_rotation:
    credential: postgres-app
    engine: postgres
    state_dir: /var/lib/nl2api/rotation
    max_age: 30d
    postgres:
      host: db.internal
      admin_user: postgres
      admin_password: "{{ vault_postgres_admin_password }}"
      database: nl2api
      ca_file: /etc/nl2api/db-ca.pem
      group_role: nl2api_app
      login_roles: [nl2api_app_a, nl2api_app_b]
      owner_role: nl2api_owner
    consumers:
      - type: kubernetes_secret
        name: nl2api
        namespace: nl2api
        # The login role alternates, so the user name inside the URL changes too.
        url_keys:
          postgres-url: >-
            postgresql://{username}:{password}@db.internal:5432/nl2api?sslmode=verify-full&sslrootcert=/etc/nl2api/tls/database/ca.crt
    rollouts:
      - {name: nl2api-api, namespace: nl2api}
  register: rotation

- name: Rotate the Redis ACL user of the KEDA scaler, now
  nl2api.deploy.credential_rotation:
    credential: redis-keda
    engine: redis_acl
    state_dir: /var/lib/nl2api/rotation
    force: true
    redis:
      login_host: redis.internal
      login_port: 6380
      tls: true
      ca_file: /etc/nl2api/redis-ca.pem
      login_user: admin
      login_password: "{{ vault_redis_admin_password }}"
      acl_user: keda
    consumers:
      - type: kubernetes_secret
        name: nl2api-redis-scaler
        namespace: nl2api
        keys: {username: username, password: password}
    keda_refresh:
      - {kind: TriggerAuthentication, name: nl2api-redis, namespace: nl2api}

- name: What would a rotation do? (nothing is written)
  nl2api.deploy.credential_rotation:
    credential: redis-app
    engine: redis_acl
    state_dir: /var/lib/nl2api/rotation
    redis:
      login_user: admin
      login_password: "{{ vault_redis_admin_password }}"
      acl_user: nl2api
    consumers:
      - type: file
        path: /etc/nl2api/secrets/redis
        keys: {redis-username: username, redis-password: password}
        url_keys: {redis-url: "redis://{username}:{password}@nl2api-redis:6379/0"}
  check_mode: true
  diff: true

- name: Rotate the ElastiCache AUTH token and store it in Secrets Manager
  nl2api.deploy.credential_rotation:
    credential: redis-app
    engine: elasticache
    state_dir: /var/lib/nl2api/rotation
    password_length: 64
    password_symbols: "-_.~"
    elasticache:
      replication_group_id: nl2api-prod
      region: eu-west-1
      host: master.nl2api-prod.abcdef.euw1.cache.amazonaws.com
    consumers:
      - type: aws_secretsmanager
        secret_id: nl2api/prod/redis
        region: eu-west-1
        # An AUTH token has no user name: the URL has an empty one.
        url_keys:
          redis-url: >-
            rediss://:{password}@master.nl2api-prod.abcdef.euw1.cache.amazonaws.com:6379/0?ssl_cert_reqs=required

- name: Check every option of a credential, connecting to nothing
  nl2api.deploy.credential_rotation:
    credential: redis-app
    engine: redis_acl
    state_dir: /var/lib/nl2api/rotation
    validate_only: true
    redis: {login_user: admin, acl_user: nl2api}
    consumers:
      - {type: file, path: /etc/nl2api/secrets/redis, url_keys: {redis-url: "redis://{username}:{password}@nl2api-redis:6379/0"}}
"""

RETURN = r"""
changed:
  description: Whether a step ran (in check mode, would run).
  returned: always
  type: bool
rotated:
  description: Whether the run went through (or, in check mode, would go through) to the end of a rotation.
  returned: always
  type: bool
step:
  description: The step recorded after the run; V(idle) when no rotation is in flight.
  returned: always
  type: str
  sample: idle
resumed_from:
  description: The step an interrupted rotation was resumed from, or V(null).
  returned: always
  type: str
  sample: update_consumers
msg:
  description: What the module did and why.
  returned: always
  type: str
  sample: rotated postgres-app
credential:
  description: The public part of the credential in use after the run (never a secret).
  returned: always
  type: dict
  contains:
    username:
      description: The user or role name (V(null) for password-only servers).
      type: str
    slot:
      description: The key slot (V(primary) or V(secondary)), for O(engine=azure_redis).
      type: str
    rotated_at:
      description: When the credential was last promoted, UTC.
      type: str
  sample: {username: nl2api_app_b, rotated_at: "2026-01-31T12:00:00Z"}
revision:
  description: The revision written to rollouts and KEDA objects, C(<credential>-<UTC time of promote>).
  returned: always
  type: str
  sample: postgres-app-20260131T120000Z
statements:
  description: The statements and requests the backend ran (in check mode, would run), secrets masked.
  returned: always
  type: list
  elements: str
  sample:
    - ALTER ROLE "nl2api_app_b" WITH LOGIN INHERIT PASSWORD '********'
    - ALTER ROLE "nl2api_app_a" WITH NOLOGIN PASSWORD NULL
consumers:
  description: The consumers written in this run.
  returned: always
  type: list
  elements: dict
  contains:
    type:
      description: Consumer type.
      type: str
    target:
      description: What was written (path, namespace/name, secret ID, vault URL).
      type: str
    changed:
      description: Whether it changed.
      type: bool
  sample: [{type: file, target: /etc/nl2api/secrets/db, changed: true}]
rollouts:
  description: The Deployments rolled in this run.
  returned: always
  type: list
  elements: dict
  contains:
    target:
      description: The Deployment.
      type: str
    changed:
      description: Whether it was rolled.
      type: bool
keda_refreshed:
  description: The KEDA objects refreshed in this run.
  returned: always
  type: list
  elements: dict
  contains:
    target:
      description: The object.
      type: str
    changed:
      description: Whether it was annotated.
      type: bool
state_file:
  description: The state file of the credential.
  returned: always
  type: str
  sample: /var/lib/nl2api/rotation/postgres-app.json
diff:
  description: Public state before and after (username or slot, rotated_at, step).
  returned: always
  type: dict
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nl2api.deploy.plugins.module_utils._common import fail_on_problems, mask
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.consumers import build_consumers, build_refreshers
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.engine import (
    RotationEngine,
    RotationError,
    StateStore,
    build_alphabet,
    fault_hook_from_env,
    generate_password,
    parse_duration,
    parse_max_age,
)
from ansible_collections.nl2api.deploy.plugins.module_utils.rotation.options import (
    ARGUMENT_SPEC,
    ENGINE_RULES,
    option_problems,
)


def build_backend(engine, params):
    """The backend of ``engine`` from its option (imports only the library it needs)."""
    if engine == "postgres":
        from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import postgres
        return postgres.build_backend(params["postgres"])
    if engine == "redis_acl":
        from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import redis
        return redis.build_backend(params["redis"])
    if engine == "elasticache":
        from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import aws
        return aws.build_backend(params["elasticache"])
    from ansible_collections.nl2api.deploy.plugins.module_utils.rotation import azure
    return azure.build_backend(params["azure_redis"])


def module_result(result, rollout_count):
    """The engine's result in the module's return shape."""
    out = dict(result)
    refreshed = out.pop("refreshed", [])
    out.pop("steps_run", None)
    out["rollouts"] = [dict(target=r["target"], changed=r["changed"]) for r in refreshed[:rollout_count]]
    out["keda_refreshed"] = [dict(target=r["target"], changed=r["changed"]) for r in refreshed[rollout_count:]]
    return out


def run_rotation(module):
    """Validate, build the engine, run it; exits the module."""
    params = module.params
    secrets_seen = module.no_log_values
    result = {}
    fail_on_problems(module, option_problems(params), changed=False)
    if params["validate_only"]:
        module.exit_json(changed=False, msg="%s: the options are valid (validate_only: nothing was connected to)"
                         % params["credential"])
    try:
        alphabet = build_alphabet(params["password_alphabet"], params["password_symbols"])
        max_age = parse_max_age(params["max_age"])
        revoke_delay = parse_duration(params["revoke_delay"], "revoke_delay")
        store = StateStore(params["state_dir"], params["credential"])
        fault_hook = fault_hook_from_env()
        backend = build_backend(params["engine"], params)
        backend.allowed_alphabet(alphabet, params["password_length"])
        consumers = build_consumers(params["consumers"])
        refreshers = build_refreshers(params["rollouts"], params["keda_refresh"])
        length = params["password_length"]
        engine = RotationEngine(
            params["credential"], backend, consumers, refreshers, store, max_age,
            force=params["force"],
            password_generator=lambda: generate_password(length, alphabet),
            check_mode=module.check_mode,
            fault_hook=fault_hook,
            secret_sink=secrets_seen.add,
            revoke_delay_seconds=revoke_delay,
        )
        result = engine.run()
    except RotationError as exc:
        extra = module_result(exc.result, len(params["rollouts"] or [])) if exc.result else {}
        extra.pop("msg", None)
        extra.pop("changed", None)
        # A failure inside a step leaves the state file recording a rotation in flight: that is a change.
        module.fail_json(msg=mask(exc, secrets_seen), changed=bool(exc.result) and not module.check_mode, **extra)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="credential %s: unexpected error: %s" % (params["credential"], mask(exc, secrets_seen)),
                         exception=mask(traceback.format_exc(), secrets_seen))
    module.exit_json(**module_result(result, len(params["rollouts"] or [])))


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, **ENGINE_RULES)
    os.umask(0o077)
    run_rotation(module)


if __name__ == "__main__":
    main()
