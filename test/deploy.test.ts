import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import t from 'tap'
import YAML from 'yaml'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import { CONFIG_VARIABLES, loadConfig } from '../src/config.js'
import { build } from './helper.js'

// The deployment files (deploy/k8s, compose.yaml, deploy/compose/haproxy.cfg) against the real
// tools and the app: rendered by kubectl kustomize, every object validated against the Kubernetes
// schemas, every variable one the config knows (and a valid configuration as a whole), every
// probe path and port one the app serves.

const run = promisify(execFile)
const kubectl = await run('kubectl', ['version', '--client']).then(() => true, () => false)
const haproxy = await run('haproxy', ['-v']).then(() => true, () => false)

// Every kind the base may hold, with its schema; an object of another kind fails the test.
const MODELS: Record<string, new (data: never) => { validate: () => void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler
}

interface K8sObject { apiVersion: string, kind: string, metadata: { name: string }, [key: string]: unknown }
interface Probe { httpGet: { path: string, port: string | number } }
interface Container {
  name: string
  command?: string[]
  env?: Array<{ name: string, value?: string, valueFrom?: { secretKeyRef?: { name: string, key: string } } }>
  envFrom?: Array<{ configMapRef?: { name: string }, secretRef?: { name: string } }>
  ports?: Array<{ name: string, containerPort: number }>
  livenessProbe?: Probe
  readinessProbe?: Probe
  startupProbe?: Probe
  lifecycle?: { preStop?: { exec?: { command: string[] } } }
  resources?: { requests?: Record<string, string>, limits?: Record<string, string> }
  securityContext?: { readOnlyRootFilesystem?: boolean, allowPrivilegeEscalation?: boolean, capabilities?: { drop?: string[] } }
}

t.test('deploy/k8s: a kustomize base of valid objects that fit the app', { skip: kubectl ? false : 'kubectl not installed (Debian package kubernetes-client; .ci/run installs it)' }, async t => {
  const { stdout } = await run('kubectl', ['kustomize', 'deploy/k8s'])
  const objects = YAML.parseAllDocuments(stdout).map(doc => doc.toJSON() as K8sObject)
  t.same(objects.map(o => o.kind).sort(),
    ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Secret', 'Service'])
  for (const object of objects) {
    const Model = MODELS[`${object.apiVersion}/${object.kind}`]
    if (Model === undefined) {
      t.fail(`no schema for ${object.apiVersion} ${object.kind}`)
      continue
    }
    t.doesNotThrow(() => new Model(object as never).validate(), `${object.kind} ${object.metadata.name} is valid against the Kubernetes schema`)
  }

  const one = <T>(kind: string) => objects.find(o => o.kind === kind) as unknown as T
  const configMap = one<{ metadata: { name: string }, data: Record<string, string> }>('ConfigMap')
  const secret = one<{ metadata: { name: string }, stringData: Record<string, string> }>('Secret')
  const deployment = one<{
    metadata: { name: string }
    spec: {
      selector: { matchLabels: Record<string, string> }
      template: {
        metadata: { labels: Record<string, string> }
        spec: { terminationGracePeriodSeconds: number, securityContext: { runAsNonRoot?: boolean }, initContainers: Container[], containers: Container[] }
      }
    }
  }>('Deployment')
  const service = one<{ spec: { selector: Record<string, string>, ports: Array<{ targetPort: string }> } }>('Service')
  const pdb = one<{ spec: { selector: { matchLabels: Record<string, string> } } }>('PodDisruptionBudget')
  const hpa = one<{ spec: { scaleTargetRef: { kind: string, name: string }, minReplicas: number } }>('HorizontalPodAutoscaler')

  const known = new Set(CONFIG_VARIABLES)
  for (const key of [...Object.keys(configMap.data), ...Object.keys(secret.stringData)]) {
    t.ok(known.has(key), `${key} is a variable of src/config.ts`)
  }

  // What each container sees: the ConfigMap and Secret it takes whole, then its own env over them.
  const envOf = (container: Container): Record<string, string> => {
    const env: Record<string, string> = {}
    for (const from of container.envFrom ?? []) {
      if (from.configMapRef?.name === configMap.metadata.name) Object.assign(env, configMap.data)
      else if (from.secretRef?.name === secret.metadata.name) Object.assign(env, secret.stringData)
      else t.fail(`${container.name}: envFrom names an object the base does not hold`)
    }
    for (const variable of container.env ?? []) {
      t.ok(known.has(variable.name), `${container.name}: ${variable.name} is a variable of src/config.ts`)
      const ref = variable.valueFrom?.secretKeyRef
      if (ref !== undefined) {
        t.equal(ref.name, secret.metadata.name, `${container.name}: ${variable.name} comes from the base's Secret`)
        t.ok(Object.hasOwn(secret.stringData, ref.key), `${container.name}: the Secret has ${ref.key}`)
        env[variable.name] = secret.stringData[ref.key] as string
      } else {
        env[variable.name] = variable.value ?? ''
      }
    }
    return env
  }

  const pod = deployment.spec.template
  const [api] = pod.spec.containers
  const [migrate] = pod.spec.initContainers
  if (api === undefined || migrate === undefined) throw new Error('the Deployment has no api container or no migrate init container')
  const config = loadConfig(envOf(api))
  t.equal(config.NODE_ENV, 'production')
  t.equal(config.MIGRATE_ON_START, 'off', 'replicas do not migrate at start')
  t.not(config.METRICS_HOST, '127.0.0.1', 'metrics reachable by Prometheus from outside the pod')

  const migrateConfig = loadConfig(envOf(migrate))
  t.same(migrate.command, ['node', 'dist/db/migrate-cli.js'], 'migrations run by the init container')
  t.equal(migrateConfig.DATABASE_URL, secret.stringData.DATABASE_LISTEN_URL, 'on the direct connection (an advisory lock needs a session, not PgBouncer)')

  const portNamed = (name: string | number) => typeof name === 'number' ? name : api.ports?.find(p => p.name === name)?.containerPort
  t.equal(portNamed('http'), config.PORT, 'the http port is the one the service listens on')
  t.equal(portNamed('metrics'), config.METRICS_PORT, 'the metrics port is METRICS_PORT')
  t.equal(service.spec.ports[0]?.targetPort, 'http', 'the Service sends traffic to the http port')
  t.equal(api.livenessProbe?.httpGet.path, '/health/live')
  t.equal(api.startupProbe?.httpGet.path, '/health/live')
  t.equal(api.readinessProbe?.httpGet.path, '/health/ready')
  for (const probe of [api.livenessProbe, api.readinessProbe, api.startupProbe]) {
    t.equal(portNamed(probe?.httpGet.port ?? ''), config.PORT, `${probe?.httpGet.path ?? '?'} is probed on the service's port`)
  }
  const app = await build(t)
  for (const path of ['/health/live', '/health/ready']) {
    t.equal((await app.inject({ url: path })).statusCode, 200, `the app answers ${path}`)
  }

  const labels = pod.metadata.labels
  const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v)
  t.ok(selects(deployment.spec.selector.matchLabels), 'the Deployment selects its pods')
  t.ok(selects(service.spec.selector), 'the Service selects the pods')
  t.ok(selects(pdb.spec.selector.matchLabels), 'the PodDisruptionBudget covers the pods')
  t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name }, 'the autoscaler scales the Deployment')

  const preStop = api.lifecycle?.preStop?.exec?.command ?? []
  t.equal(preStop[0], 'sleep', 'preStop holds the pod while endpoints are removed')
  const drainSeconds = Number(preStop[1]) + (config.SHUTDOWN_DELAY_MS + config.SHUTDOWN_TIMEOUT_MS) / 1000
  t.ok(pod.spec.terminationGracePeriodSeconds > drainSeconds,
    `grace period ${pod.spec.terminationGracePeriodSeconds} s covers preStop and the drain (${drainSeconds} s)`)

  t.equal(pod.spec.securityContext.runAsNonRoot, true, 'non-root')
  for (const container of [api, migrate]) {
    t.equal(container.securityContext?.readOnlyRootFilesystem, true, `${container.name}: read-only root filesystem`)
    t.equal(container.securityContext?.allowPrivilegeEscalation, false, `${container.name}: no privilege escalation`)
    t.same(container.securityContext?.capabilities?.drop, ['ALL'], `${container.name}: no capabilities`)
    t.ok(container.resources?.requests?.memory !== undefined && container.resources.limits?.memory !== undefined,
      `${container.name}: memory request and limit`)
  }
})

t.test('compose.yaml: the service through PgBouncer behind HAProxy, configured as the app expects', async t => {
  const compose = YAML.parse(await readFile('compose.yaml', 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string>, command?: string[], deploy?: { replicas: number } }>
  }
  const { api, migrate } = compose.services
  if (api?.environment === undefined || migrate?.environment === undefined) throw new Error('compose.yaml has no api or migrate service')
  const known = new Set(CONFIG_VARIABLES)
  for (const [name, service] of [['api', api], ['migrate', migrate]] as const) {
    for (const key of Object.keys(service.environment ?? {})) t.ok(known.has(key), `${name}: ${key} is a variable of src/config.ts`)
  }
  const config = loadConfig(api.environment)
  t.match(config.DATABASE_URL, /@pgbouncer:/, 'the pool goes through PgBouncer')
  t.match(config.DATABASE_LISTEN_URL, /@postgres:/, 'LISTEN on a direct session')
  t.equal(config.MIGRATE_ON_START, 'off')
  t.equal(api.deploy?.replicas, 3)
  t.match(loadConfig(migrate.environment).DATABASE_URL, /@postgres:/, 'migrations on a direct session')
  t.same(migrate.command, ['node', 'dist/db/migrate-cli.js'])

  const haproxyConfig = await readFile('deploy/compose/haproxy.cfg', 'utf8')
  t.match(haproxyConfig, /option httpchk GET \/health\/ready/, 'HAProxy checks readiness')
  t.match(haproxyConfig, new RegExp(`server-template api \\d+ api:${config.PORT} check`), 'on the service\'s port')
  t.test('haproxy -c accepts the configuration', { skip: haproxy ? false : 'haproxy not installed (.ci/run installs it)' }, async t => {
    const { stdout, stderr } = await run('haproxy', ['-c', '-f', 'deploy/compose/haproxy.cfg'])
    t.match(`${stdout}${stderr}`, /Configuration file is valid/)
  })
})
