// Typed failures of `npm run cluster` (#14). The CLI is for operators: each
// code has its Chinese text, printed first; the English message says what
// exactly was wrong. They are never an HTTP body, so they stay out of shared's
// catalogue.

export const CLUSTER_ERRORS_ZH = {
  /** Bad command line. */
  CLUSTER_USAGE: '命令行参数有误',
  /** No nats-server binary. */
  CLUSTER_NATS_MISSING: '找不到 nats-server，请安装 Debian 软件包 nats-server（apt-get install nats-server）',
  /** No initdb/postgres binaries. */
  CLUSTER_POSTGRES_MISSING: '找不到 PostgreSQL（initdb、postgres），请安装 Debian 软件包 postgresql（apt-get install postgresql）',
  /** The --data dir holds a cluster of another shape, or files that are not ours. */
  CLUSTER_DATA_INVALID: '数据目录（--data）与本次启动参数不符或已损坏',
  /** A server did not come up. */
  CLUSTER_START_FAILED: '启动失败',
} as const

export type ClusterErrorCode = keyof typeof CLUSTER_ERRORS_ZH

export class ClusterError extends Error {
  constructor(
    readonly code: ClusterErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'ClusterError'
  }
}

export function isClusterError(err: unknown): err is ClusterError {
  return err instanceof ClusterError
}

/** Chinese first, then the code and the English detail: what the operator reads on stderr. */
export function clusterErrorText(err: ClusterError): string {
  return `本地集群：${CLUSTER_ERRORS_ZH[err.code]}（${err.code}）\n${err.message}`
}
