// Public entry of the edge agent: simulators and other packages import only this.
export { createAgent, RESTART_EXIT_CODE, type Agent, type AgentDeps, type AgentEvents, type SellResult, type SyncHaltDetail } from './agent.js'
export { AgentOptions, LogLevel, USAGE, loadConfig, makeConfig, type AgentConfig } from './config.js'
export { brokerAddress, type BrokerAddress } from './sync/index.js'
export { AGENT_VERSION } from './version.js'
export { enroll, EnrollError, readCredentials, CREDENTIALS_FILE, SIGNING_KEY_FILE, type EnrolledCredentials, type EnrollOptions } from './enroll.js'
