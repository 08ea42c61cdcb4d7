// The system's default DNS resolvers, read through libresolv (link
// libresolv.tbd). In C rather than Swift: Swift imports libresolv's
// `__res_9_state` both as a struct and as a function, and which one a call
// means has changed between Xcode versions (a function the iOS 17 libresolv
// lacks); C only ever sees the struct.

#ifndef TACET_SYSTEM_RESOLVERS_H
#define TACET_SYSTEM_RESOLVERS_H

#include <stddef.h>

/// Writes the addresses of the system's default resolvers into `buffer` as
/// numeric text, one per line, NUL-terminated, in the system's order
/// (an IPv6 link-local one carries its `%scope`). Returns how many were
/// written, or -1 when libresolv could not be initialised.
int tacet_system_resolvers(char *buffer, size_t size);

#endif
