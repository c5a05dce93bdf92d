import { ErrorBody } from '../../../shared/src/index.js'

/** Error answers every /api/ route may give; documented in the OpenAPI output. */
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  415: ErrorBody,
  429: ErrorBody,
} as const
