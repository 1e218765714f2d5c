/*
 * Test-only LD_PRELOAD shim: lets Xen 4.17's real `xl -N create` (a dry run) run on a machine without a hypervisor,
 * so xenclaim's xl.cfg reader can be checked against xl's own output. A dry run parses the config and prints libxl's
 * JSON; before that, xl opens libxl (xc_interface_open, xs_open) and asks for the version and physinfo. Those calls
 * are answered here with a plausible host: 8 CPUs in 2 NUMA nodes (CPUs 0-3 on node 0, 4-7 on node 1), which
 * `cpus = "node:N"` and vnuma's pnode read. Nothing here is used outside the oracle tests.
 * xenclaim's tests describe the same host to the mapper (test/config/oracle-host.ts).
 */
#include <errno.h>
#include <string.h>
#include <xenctrl.h>

static char fake_xc_handle[64], fake_xs_handle[64];

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger, unsigned open_flags)
{
    return (xc_interface *)fake_xc_handle;
}

int xc_interface_close(xc_interface *xch) { return 0; }

void *xs_open(unsigned long flags) { return fake_xs_handle; }
void xs_close(void *xsh) {}
void xs_daemon_close(void *xsh) {}

int xc_get_max_cpus(xc_interface *xch) { return 8; }
int xc_get_max_nodes(xc_interface *xch) { return 2; }
int xc_get_online_cpus(xc_interface *xch) { return 8; }

/* XENVER_* sub-ops: version, extraversion, compile_info, capabilities, changeset, platform_parameters,
 * get_features, pagesize, ..., commandline. Buffers are filled to the sizes Xen's public/version.h gives them. */
int xc_version(xc_interface *xch, int cmd, void *arg)
{
    switch (cmd) {
    case XENVER_version: return (4 << 16) | 17;
    case XENVER_extraversion: memset(arg, 0, sizeof(xen_extraversion_t)); strcpy(arg, ".0"); return 0;
    case XENVER_compile_info: memset(arg, 0, sizeof(xen_compile_info_t)); return 0;
    case XENVER_capabilities: memset(arg, 0, sizeof(xen_capabilities_info_t)); return 0;
    case XENVER_changeset: memset(arg, 0, sizeof(xen_changeset_info_t)); return 0;
    case XENVER_platform_parameters: memset(arg, 0, sizeof(xen_platform_parameters_t)); return 0;
    case XENVER_get_features: memset(arg, 0, sizeof(xen_feature_info_t)); return 0;
    case XENVER_pagesize: return 4096;
    case XENVER_commandline: memset(arg, 0, sizeof(xen_commandline_t)); return 0;
    default: errno = ENOSYS; return -1;
    }
}

int xc_physinfo(xc_interface *xch, xc_physinfo_t *info)
{
    memset(info, 0, sizeof(*info));
    info->threads_per_core = 1;
    info->cores_per_socket = 8;
    info->nr_cpus = 8;
    info->max_cpu_id = 7;
    info->nr_nodes = 2;
    info->cpu_khz = 2000000;
    info->total_pages = 1 << 20;
    info->free_pages = 3 << 18;
    info->capabilities = XEN_SYSCTL_PHYSCAP_hvm | XEN_SYSCTL_PHYSCAP_pv | XEN_SYSCTL_PHYSCAP_hap |
                         XEN_SYSCTL_PHYSCAP_shadow;
    return 0;
}

/* xc_cputopoinfo: a NULL buffer asks for the number of CPUs; otherwise fill it. */
int xc_cputopoinfo(xc_interface *xch, unsigned *max_cpus, xc_cputopo_t *cputopo)
{
    unsigned i;
    if (cputopo != NULL) {
        for (i = 0; i < *max_cpus && i < 8; i++) {
            cputopo[i].core = i % 4;
            cputopo[i].socket = i / 4;
            cputopo[i].node = i / 4;
        }
    }
    *max_cpus = 8;
    return 0;
}

long xc_sharing_freed_pages(xc_interface *xch) { return 0; }
long xc_sharing_used_frames(xc_interface *xch) { return 0; }
