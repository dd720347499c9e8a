// The session the whole UI shares: the controller's version and the logged-in account.
export const state = {
  version: '',
  user: null, // the logged-in account, from GET /api/useraccount
};
