#include "SystemResolvers.h"

#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>

// Apple's resolv.h maps the BIND names onto res_9_*; they are used directly
// here, as they are the symbols libresolv exports.
enum { MAX_SERVERS = 8 };

int tacet_system_resolvers(char *buffer, size_t size) {
    if (buffer == NULL || size == 0) {
        return -1;
    }
    buffer[0] = '\0';

    struct __res_9_state state;
    memset(&state, 0, sizeof state);
    if (res_9_ninit(&state) != 0) {
        return -1;
    }

    union res_9_sockaddr_union servers[MAX_SERVERS];
    memset(servers, 0, sizeof servers);
    int found = res_9_getservers(&state, servers, MAX_SERVERS);

    int written = 0;
    size_t used = 0;
    for (int i = 0; i < found && i < MAX_SERVERS; i++) {
        const struct sockaddr *address = (const struct sockaddr *)&servers[i];
        socklen_t length;
        if (address->sa_family == AF_INET) {
            length = sizeof(struct sockaddr_in);
        } else if (address->sa_family == AF_INET6) {
            length = sizeof(struct sockaddr_in6);
        } else {
            continue;
        }
        char host[NI_MAXHOST];
        if (getnameinfo(address, length, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0) {
            continue;
        }
        size_t n = strlen(host);
        if (used + n + 2 > size) {
            break;
        }
        memcpy(buffer + used, host, n);
        used += n;
        buffer[used++] = '\n';
        buffer[used] = '\0';
        written++;
    }

    res_9_ndestroy(&state);
    return written;
}
