/** `{{field}}` templates: the shared implementation lives in core (`@tern/core`, event/template.ts). */
export { compileTemplate, templateErrors, type Template } from '@tern/core';
