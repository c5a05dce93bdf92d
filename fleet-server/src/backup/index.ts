// Backups of the embedded SQLite store (issue 13): online copies, verified,
// kept daily with retention; restore is documented in the README.
export { takeBackup, type BackupFile } from './backup.js'
export { backupName, isBackupName, listBackups, prune, PARTIAL_SUFFIX } from './files.js'
export { backupRoutes } from './routes.js'
export { BACKUP_CRON, startBackupSchedule, type BackupSchedule } from './schedule.js'
export { backupNotSqlite, createBackupService, type BackupService } from './service.js'
export { verifyCopy, type Verdict } from './verify.js'
export { createCatchUp, type CatchUp } from './catch-up.js'
