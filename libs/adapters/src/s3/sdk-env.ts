// Imported before @aws-sdk/client-s3. The SDK warns once per process, when the first client is
// built, that its releases after January 2027 need Node 22; on Node 20 that is noise in every
// service's log. An operator who wants the warning sets the variable to anything but `true`.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export {};
