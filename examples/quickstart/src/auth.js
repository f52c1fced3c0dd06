// Stand-in for real authentication: the user id your session middleware established.
// (A real app reads it from a verified session or token, never from a header the client sets.)
function currentUserId(req) {
  return req.user?.id;
}

module.exports = { currentUserId };
