/**
 * OpenTelemetry tracing: a span per request (@fastify/otel), per pg query and per Redis command,
 * exported over OTLP as the standard OTEL_* variables say. server.ts imports this file only when
 * an OTLP endpoint is configured, and before the app: nothing of the SDK is loaded otherwise.
 */
import { readFileSync } from 'node:fs'
import { register } from 'node:module'
import { setTimeout as sleep } from 'node:timers/promises'
import { FastifyOtelInstrumentation } from '@fastify/otel'
import { context, trace, type ProxyTracerProvider } from '@opentelemetry/api'
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis'
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg'
import { NodeSDK, resources, type NodeSDKConfiguration } from '@opentelemetry/sdk-node'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { createAddHookMessageChannel } from 'import-in-the-middle'

export interface Tracing {
  /** Registered by the app before everything else, so that every route gets its request span. */
  plugin: FastifyPluginAsync
  /** pino mixin: the active span's ids on every log line. */
  logFields: () => { trace_id?: string, span_id?: string }
}

export interface TracingOptions {
  /** Where spans go instead of the OTLP exporter the OTEL_* variables describe (tests). */
  spanProcessors?: NodeSDKConfiguration['spanProcessors']
}

// Well inside server.ts's shutdown deadline (10 s), which an export timeout (10 s) is not.
const FLUSH_ON_CLOSE_MS = 2000

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

export async function startTracing (options: TracingOptions = {}): Promise<Tracing> {
  // pg and ioredis are loaded through `import`, which require hooks do not see: a module hook
  // lets their instrumentations patch them. It intercepts only the modules they name.
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel()
  register('import-in-the-middle/hook.mjs', import.meta.url, registerOptions)

  const fastifyOtel = new FastifyOtelInstrumentation({
    // One span per request: spans for its hooks and handler would add to the cost (a span is
    // most of it) and little for on-call, whose questions are which query or command was slow.
    instrumentHooks: false,
    instrumentHandler: false,
    // Named after the route as HTTP semantic conventions say ("GET /api/articles/:slug").
    requestHook: (span, request) => {
      span.updateName(`${request.method} ${request.routeOptions.url ?? ''}`.trim())
    }
  })
  const sdk = new NodeSDK({
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still override these.
    resource: resources.defaultResource().merge(resources.resourceFromAttributes({
      'service.name': 'gravity-bff',
      'service.version': version
    })),
    instrumentations: [
      fastifyOtel,
      // Only inside a request: the LISTEN session, migrations and cache upkeep would each start
      // traces of their own.
      new PgInstrumentation({ requireParentSpan: true }),
      new IORedisInstrumentation({ requireParentSpan: true })
    ],
    spanProcessors: options.spanProcessors,
    // Traces only, unless an operator names a metrics or logs exporter.
    metricReaders: process.env.OTEL_METRICS_EXPORTER ? undefined : [],
    logRecordProcessors: process.env.OTEL_LOGS_EXPORTER ? undefined : []
  })
  sdk.start()
  await waitForAllMessagesAcknowledged()

  const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as { forceFlush?: () => Promise<void> }
  return {
    plugin: fp(async app => {
      await app.register(fastifyOtel.plugin())
      // The process exits right after the server closes: export what is still buffered, but a
      // collector that does not answer must not hold the shutdown past its deadline.
      app.addHook('onClose', async () => {
        await Promise.race([provider.forceFlush?.(), sleep(FLUSH_ON_CLOSE_MS, undefined, { ref: false })])
      })
    }, { name: 'tracing' }),
    logFields: () => {
      const span = trace.getSpan(context.active())
      if (span === undefined) return {}
      const { traceId, spanId } = span.spanContext()
      return { trace_id: traceId, span_id: spanId }
    }
  }
}
