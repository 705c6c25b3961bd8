# shellcheck shell=bash
# Shared by the install scripts (sourced, not run): questions about Debian
# packages. Never changes the system.

# installed PKG: true for a fully installed package (dpkg-query prints
# "install ok installed" only then).
installed() {
	[[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}
