import { sandboxSetup } from './global-setup.ts';

/** The Argo CD project's sandbox: the usual one plus the git server, redis and Argo CD. */
export default sandboxSetup({ argocd: true });
