// `npm run cluster` options (#14): the command line, checked once with zod and
// frozen, plus what the CLI takes from its environment. The only reader of
// process.env in the cluster CLI (main.ts passes it in).
import { parseArgs } from 'node:util'
import { resolve } from 'node:path'
import { z } from 'zod'
import { ClusterError } from './errors.js'

export const CLUSTER_USAGE = `用法: npm run cluster -- [--nats 1|3] [--replicas N] [--data 目录]

  --nats N       NATS 节点数，1 或 3（默认 3）
  --replicas N   fleet-server 副本数，1 到 8（默认 2）
  --data 目录    所有持久数据（NATS、PostgreSQL、身份文件、管理令牌、副本数据与日志）放在此目录，
                 再次启动时沿用；不给则用临时目录，停止时删除
就绪后在标准输出打印一行 {"event":"ready",…}；SIGTERM 或 Ctrl-C 停止全部进程。`

const Options = z.strictObject({
  nats: z.enum(['1', '3'], { error: '--nats: 1 or 3' }).default('3').transform(Number).pipe(z.union([z.literal(1), z.literal(3)])),
  replicas: z.coerce.number({ error: '--replicas: a whole number' }).int().min(1, '--replicas: at least 1').max(8, '--replicas: at most 8 on one machine').default(2),
  data: z.string().min(1, '--data: a directory').optional(),
})

const LogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')

export interface ClusterConfig {
  readonly nats: 1 | 3
  readonly replicas: number
  /** Absolute; null: a temp dir removed on stop. */
  readonly dataDir: string | null
  /** The CLI's own log level (stderr); LOG_LEVEL. */
  readonly logLevel: z.infer<typeof LogLevel>
  /**
   * The environment the replicas inherit (PATH, locale…), without FLEET_* and
   * PLATFORM_* settings: the cluster sets those, and a stray one from the
   * operator's shell (FLEET_MQTT_URL, say) would make every replica refuse to start.
   */
  readonly childEnv: Readonly<Record<string, string>>
}

export function loadClusterConfig(argv: string[], env: NodeJS.ProcessEnv): ClusterConfig {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({ args: argv, options: { nats: { type: 'string' }, replicas: { type: 'string' }, data: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }))
  } catch (err) {
    throw new ClusterError('CLUSTER_USAGE', `${(err as Error).message}\n\n${CLUSTER_USAGE}`)
  }
  const r = Options.safeParse({ nats: values.nats, replicas: values.replicas, data: values.data })
  if (!r.success) throw new ClusterError('CLUSTER_USAGE', `${z.prettifyError(r.error)}\n\n${CLUSTER_USAGE}`)
  const level = LogLevel.safeParse(env.LOG_LEVEL || undefined)
  const childEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !/^(FLEET_|PLATFORM_)/.test(k) && k !== 'LOG_LEVEL') childEnv[k] = v
  return Object.freeze({
    nats: r.data.nats,
    replicas: r.data.replicas,
    dataDir: r.data.data === undefined ? null : resolve(r.data.data),
    logLevel: level.success ? level.data : 'info',
    childEnv: Object.freeze(childEnv),
  })
}
