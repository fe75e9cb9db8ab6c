"""Word lists the sandbox seed draws from: made-up people and companies, ASCII only."""


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    """
    maria john anna james sofia lukas emma oliver chloe mateo lucia noah ines pierre camille
    giulia marco elena piotr agnieszka tomasz katarzyna jan eva lars ingrid sven freya mikko
    aino joao beatriz rafael carmen diego valentina hiroshi yuki kenji mei wei li arjun priya
    rahul ananya omar fatima ahmed leila kwame amara chidi ngozi david sarah michael laura
    daniel rachel thomas julia stefan petra nikolai olga dmitri irina sean aoife
    """
)

# Hyphens are kept in slugs (de-vries) and dropped in email addresses (devries).
LAST_NAMES = _words(
    """
    gonzalez smith kowalska kowalski muller schneider rossi bianchi dubois martin garcia
    fernandez lopez silva santos pereira jansen de-vries van-dijk nielsen hansen johansson
    andersson virtanen korhonen novak horvat nowak wisniewski lewandowska tanaka suzuki sato
    nakamura chen wang zhang liu patel sharma gupta singh haddad khan rahman mensah okafor
    adeyemi brown johnson williams taylor murphy obrien kelly walsh ivanov petrova popescu
    ionescu papadopoulos nagy kovacs dvorak weber fischer moreau laurent ricci esposito
    """
)

COMPANY_DOMAINS = _words(
    """
    northwind-traders.com acmelogistics.io bluepeak.co.uk kowalski-bud.pl schneider-metall.de
    rossi-costruzioni.it lumenlabs.ai brightpath.consulting fjordtech.no helsinki-data.fi
    tejo-solucoes.pt sierra-verde.es maplecrest.ca harbourview.com.au kiwisoft.co.nz
    sakura-systems.jp dragonbridge.cn indigo-analytics.in sahara-trading.ae lagos-fintech.ng
    accra-agro.com.gh capeventures.co.za vltava-software.cz danube-logistics.hu carpathia.ro
    aegean-shipping.gr rhine-chemie.de seine-conseil.fr tulip-energy.nl nordic-retail.se
    baltic-freight.lt alpine-health.ch atlas-insurance.com summitcloud.io greenleaf-foods.com
    ironclad-security.com quantumreach.tech silverline-media.com oakridge-partners.com
    pinnacle-hr.com crescent-legal.co.uk riverstone-capital.com orbit-telecom.net
    meridian-pharma.com cobalt-mining.com.au vertex-robotics.de horizon-edu.org
    nimbus-saas.com stellar-events.es copperleaf.dev evergreen-realty.com falconair.aero
    tidewater-marine.com
    """
)

GENERIC_MAILBOXES = ("info", "sales", "contact", "hello", "office", "marketing", "support")

BLOCK_REASONS = (
    "Existing client",
    "Requested opt-out",
    "Unsubscribed",
    "Competitor",
    "GDPR erasure request",
    None,
)
# Roughly how often each reason above occurs on a real workspace's list.
BLOCK_REASON_WEIGHTS = (22, 20, 14, 9, 5, 30)
