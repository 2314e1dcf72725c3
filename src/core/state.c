#include "core/state.h"

#include <stdlib.h>

#include <pwd.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/xalloc.h"

int state_dir_resolve(const char *flag_dir, const struct config *cfg, char **out, struct error *err)
{
    const char *env = getenv("PERMAFROST_STATE_DIR");
    const char *xdg = getenv("XDG_STATE_HOME");
    const char *home = getenv("HOME");
    char *dir;

    *out = NULL;
    if (flag_dir && *flag_dir) {
        dir = xstrdup(flag_dir);
    } else if (env && *env) {
        dir = xstrdup(env);
    } else if (cfg && cfg->global.state_dir) {
        dir = xstrdup(cfg->global.state_dir);
    } else if (xdg && *xdg) {
        dir = xasprintf("%s/permafrost", xdg);
    } else {
        if (!home || !*home) {
            struct passwd *pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : NULL;
        }
        if (!home) {
            error_set(err, ERR_CONFIG, "cannot find a state directory: HOME is not set");
            return error_hint(err, "set [global] state_dir or PERMAFROST_STATE_DIR");
        }
        dir = xasprintf("%s/.local/state/permafrost", home);
    }
    if (fs_mkdir_p(dir, 0700, err) < 0) {
        error_wrap(err, "state directory");
        xfree(dir);
        return -1;
    }
    *out = dir;
    return 0;
}
