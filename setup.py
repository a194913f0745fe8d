"""Packaging for ShopAssist: the Rasa plugin's Python packages and the `shopassist` command.

Exact, mutually compatible versions live in requirements.txt (installed by `make install`);
the ranges here only say what the packages need to import.
"""
from setuptools import find_packages, setup

setup(
    name="shopassist",
    version="0.1.0",
    description="E-commerce customer-service assistant built as a Rasa Open Source 3.6 plugin",
    python_requires=">=3.8,<3.11",
    packages=find_packages(
        include=["components*", "actions*", "shop*", "shopassist*", "channels*", "console*", "serving*"]
    ),
    include_package_data=True,
    # The agent console's page and the web chat page ship inside their packages.
    package_data={"console": ["static/*"], "channels": ["static/*"]},
    install_requires=[
        "rasa>=3.6.21,<3.7",
        "rasa-sdk>=3.6,<3.7",
        "SQLAlchemy>=1.4,<1.5",
    ],
    entry_points={"console_scripts": ["shopassist=shopassist.cli:main"]},
)
