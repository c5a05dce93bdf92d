/** Reported in every heartbeat; keep in step with package.json when releasing. */
export const AGENT_VERSION = '0.1.0'
