export { commandsModule, type CommandsModule } from './module.js'
export type { CommandService } from './service.js'
